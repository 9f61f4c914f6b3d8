import { addTrainingStep, Graph, type OptimizerConfig, TrainingSession } from '@glassbox/graph';
import { describe, expect, it } from 'vitest';
import { maxAbsDifference, runPython, TORCH_SKIP_REASON, torchAvailable } from './src/python.js';

const W = [-1, 3.3, 2, -5, 3, -2, -4, -5, 1.5];
const TARGET = [0.5, -1, 2, 0.25, -0.75, 1, 0, -2, 0.3];

/**
 * Loss used by every optimizer case: sum((w - t)^2 * c) + sum(b^2) with fixed coefficients c, so that the
 * gradient differs per element. `b` gets no weight decay (a separate parameter group, as biases are).
 */
const PYTHON_LOSS = `
import json, sys, torch
cfg = json.loads(sys.stdin.read())
w = torch.tensor(cfg['w'], dtype=torch.float32, requires_grad=True)
b = torch.tensor(cfg['b'], dtype=torch.float32, requires_grad=True)
t = torch.tensor(cfg['t'], dtype=torch.float32)
c = torch.arange(1, 10, dtype=torch.float32) / 4
opt = cfg['optimizer']
groups = [{'params': [w], 'weight_decay': cfg['wd']}, {'params': [b], 'weight_decay': 0.0}]
if opt['type'] == 'sgd':
    o = torch.optim.SGD(groups, lr=cfg['lr'], momentum=opt.get('momentum', 0), dampening=opt.get('dampening', 0), nesterov=opt.get('nesterov', False))
elif opt['type'] == 'adam':
    o = torch.optim.Adam(groups, lr=cfg['lr'], betas=(opt['beta1'], opt['beta2']), eps=opt['eps'])
else:
    o = torch.optim.AdamW(groups, lr=cfg['lr'], betas=(opt['beta1'], opt['beta2']), eps=opt['eps'])
norms = []
for step in range(cfg['steps']):
    o.zero_grad()
    loss = (((w - t) ** 2) * c).sum() + (b ** 2).sum()
    loss.backward()
    if cfg['clip'] > 0:
        norms.append(float(torch.nn.utils.clip_grad_norm_([w, b], cfg['clip'])))
    o.step()
print(json.dumps({'w': w.tolist(), 'b': b.tolist(), 'norms': norms}))
`;

async function runGlassbox(optimizer: OptimizerConfig, lr: number, steps: number, clip: number, wd: number) {
  const g = new Graph('optimizer-case');
  const w = g.parameter('w', [9]);
  const b = g.parameter('b', [2]);
  const c = g.constant(
    Array.from({ length: 9 }, (_, i) => (i + 1) / 4),
    [9],
  );
  const diff = g.sub(w, g.constant(TARGET, [9]));
  const loss = g.add(g.reduceSum(g.mul(g.mul(diff, diff), c)), g.reduceSum(g.mul(b, b)));
  const spec = addTrainingStep(g, loss, {
    optimizer: { ...optimizer, weightDecay: wd },
    maxGradNorm: clip,
    parameterSettings: (p) => ({ weightDecay: p.name === 'b' ? 0 : wd }),
  });
  const session = await TrainingSession.create(g, spec, { intraOpThreads: 1 });
  session.load(
    new Map([
      ['w', Float32Array.from(W)],
      ['b', Float32Array.of(0.5, -1.5)],
    ]),
  );
  const norms: number[] = [];
  for (let i = 0; i < steps; i++) norms.push((await session.runStep(lr)).gradNorm);
  const params = session.parameters();
  const out = { w: Array.from(params.get('w')!), b: Array.from(params.get('b')!), norms };
  await session.release();
  return out;
}

const CASES: { name: string; optimizer: OptimizerConfig; lr: number; clip: number; wd: number }[] = [
  { name: 'SGD', optimizer: { type: 'sgd' }, lr: 0.01, clip: 0, wd: 0.01 },
  {
    name: 'SGD with momentum and dampening',
    optimizer: { type: 'sgd', momentum: 0.9, dampening: 0.1 },
    lr: 0.01,
    clip: 0,
    wd: 0.01,
  },
  {
    name: 'SGD with Nesterov momentum',
    optimizer: { type: 'sgd', momentum: 0.9, nesterov: true },
    lr: 0.01,
    clip: 0,
    wd: 0,
  },
  {
    name: 'Adam with L2 weight decay',
    optimizer: { type: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    lr: 0.05,
    clip: 0,
    wd: 0.1,
  },
  {
    name: 'AdamW with clipping',
    optimizer: { type: 'adamw', beta1: 0.9, beta2: 0.95, eps: 1e-8 },
    lr: 0.05,
    clip: 1,
    wd: 0.1,
  },
];

describe.skipIf(!torchAvailable())(`optimizers match torch.optim (${TORCH_SKIP_REASON})`, () => {
  for (const c of CASES) {
    it(`${c.name}: 20 steps`, async () => {
      const ours = await runGlassbox(c.optimizer, c.lr, 20, c.clip, c.wd);
      const reference = JSON.parse(
        runPython(
          ['-c', PYTHON_LOSS],
          JSON.stringify({
            w: W,
            b: [0.5, -1.5],
            t: TARGET,
            optimizer: c.optimizer,
            lr: c.lr,
            steps: 20,
            clip: c.clip,
            wd: c.wd,
          }),
        ),
      );
      expect(maxAbsDifference(ours.w, reference.w)).toBeLessThan(1e-5);
      expect(maxAbsDifference(ours.b, reference.b)).toBeLessThan(1e-5);
      if (c.clip > 0) expect(maxAbsDifference(ours.norms, reference.norms)).toBeLessThan(1e-4);
    });
  }
});

describe('gradient clipping', () => {
  it('reports norm 19.712 for the gradient of sum(w^2) and clips it to 1', async () => {
    const g = new Graph('clip');
    const w = g.parameter('w', [9]);
    const loss = g.reduceSum(g.mul(w, w));
    const spec = addTrainingStep(g, loss, { optimizer: { type: 'sgd' }, maxGradNorm: 1 });
    const session = await TrainingSession.create(g, spec, { intraOpThreads: 1 });
    session.load(new Map([['w', Float32Array.from(W)]]));
    const { gradNorm } = await session.runStep(1);
    expect(gradNorm).toBeCloseTo(19.712, 3);
    // With lr 1, the update equals the clipped gradient, whose norm must be 1 (up to the 1e-6 epsilon).
    const updated = session.parameters().get('w')!;
    const step = W.map((v, i) => v - updated[i]);
    expect(Math.hypot(...step)).toBeCloseTo(1, 5);
    await session.release();
  });
});
