import type { Graph, GraphNode, Tensor } from './graph.js';
import { isFloatDType } from './tensor.js';

/**
 * Reverse-mode automatic differentiation. Walks the graph backwards from `output` and appends the backward
 * pass to the same graph as ordinary ops, visiting only nodes that lie on a path from one of `wrt` to
 * `output`. Returns d output / d wrt[i] for each i; a tensor that `output` does not depend on gets zeros.
 *
 * `output` is usually a scalar loss; for a non-scalar output, `seed` is the vector in the vector-Jacobian
 * product (ones of the output's shape when omitted).
 */
export function grad(output: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  const graph = output.graph;
  if (!isFloatDType(output.dtype)) throw new Error(`grad: ${output} is not a float tensor.`);
  for (const t of wrt) {
    if (t.graph !== graph) throw new Error(`grad: ${t} belongs to another graph.`);
    if (!isFloatDType(t.dtype))
      throw new Error(`grad: cannot differentiate with respect to ${t}, which is not float.`);
  }

  // Nodes that depend on some `wrt` tensor (forward reachability; creation order is topological).
  const wrtNames = new Set(wrt.map((t) => t.name));
  const dependsOnWrt = new Set<string>(wrtNames);
  const endNode = output.producer;
  const candidates: GraphNode[] = [];
  for (const node of graph.nodes) {
    if (endNode && node.id > endNode.id) break;
    if (node.inputs.some((t) => dependsOnWrt.has(t.name))) {
      for (const out of node.outputs) dependsOnWrt.add(out.name);
      candidates.push(node);
    }
  }

  // Of those, the nodes that `output` depends on (backward reachability).
  const needed = new Set<string>([output.name]);
  const path: GraphNode[] = [];
  for (let i = candidates.length - 1; i >= 0; i--) {
    const node = candidates[i];
    if (node.outputs.some((t) => needed.has(t.name))) {
      path.push(node);
      for (const input of node.inputs) needed.add(input.name);
    }
  }

  const grads = new Map<string, Tensor>();
  grads.set(output.name, seed ?? graph.expandAs(graph.constant(1, [], output.dtype), output));
  const accumulate = (tensor: Tensor, g: Tensor) => {
    const previous = grads.get(tensor.name);
    grads.set(tensor.name, previous ? graph.add(previous, g) : g);
  };

  for (const node of path) {
    const gradOutputs = node.outputs.map((t) => grads.get(t.name));
    if (gradOutputs.every((g) => g === undefined)) continue;
    const needsGradient = node.inputs.map(
      (t) => isFloatDType(t.dtype) && dependsOnWrt.has(t.name) && needed.has(t.name),
    );
    if (!needsGradient.some(Boolean)) continue;
    if (!node.op.grad) {
      throw new Error(
        `grad: op "${node.op.name}" (output ${node.outputs[0].name}) has no gradient rule because ${node.op.noGradient}; ` +
          'the requested gradient passes through it.',
      );
    }
    const inputGrads = graph.scope('grad', () => node.op.grad!({ graph, node, gradOutputs, needsGradient }));
    node.inputs.forEach((input, i) => {
      const g = inputGrads[i];
      if (g && needsGradient[i]) accumulate(input, g);
    });
  }

  return wrt.map((t) => grads.get(t.name) ?? zerosFor(graph, t));
}

function zerosFor(graph: Graph, t: Tensor): Tensor {
  return graph.apply('zerosLike', [t])[0];
}
