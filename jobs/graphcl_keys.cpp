// The graphcl job kind's keys (jobs/train_graphcl.cpp is the job): data, GraphCL's model, loss and
// augmentations, the sampler, and GraphCL's evaluation protocol.
#include "jobs/job_kinds.hpp"

namespace relfm::jobs {

std::vector<KeySpec> graphcl_keys() {
  const auto blocks = Resume::kBlocks;
  std::vector<KeySpec> keys = {
      {"data.tu", ValueKind::kString, "", "TU data set: a directory of NAME_*.txt files or a NAME.txt[.gz] (both formats, io/tu_files.hpp).",
       {}, {}, {}, blocks},
      {"data.name", ValueKind::kString, "\"\"", "The data set's file prefix when it differs from the directory name.", {}, {}, {}, blocks},
      {"data.node_features", ValueKind::kString, "\"labels_or_constant\"",
       "Node features: GraphCL's one-hot node labels or a constant (labels_or_constant), or auto, labels, attributes, labels+attributes, constant, degree.",
       {"labels_or_constant", "auto", "labels", "attributes", "labels+attributes", "constant", "degree"}, {}, {}, blocks},
      {"model.hidden", ValueKind::kInt, "32", "GIN hidden width (GraphCL: 32).", {}, 1, {}, blocks},
      {"model.layers", ValueKind::kInt, "3", "GIN layers; the embedding is layers x hidden (GraphCL: 3).", {}, 1, {}, blocks},
      {"train.batch_size", ValueKind::kInt, "128", "Global batch size B (instances per step, spread over the ranks).", {}, 2, {}, blocks},
      {"loss.temperature", ValueKind::kReal, "0.2", "InfoNCE temperature (GraphCL: 0.2).", {}, 1e-6, {}, blocks},
      {"loss.denominator", ValueKind::kString, "\"negatives\"",
       "negatives: GraphCL's -log(pos / (sum - pos)); all: the positive in the denominator too (SimCLR's form).",
       {"negatives", "all"}, {}, {}, blocks},
      {"augment.policy", ValueKind::kString, "\"random2\"",
       "GraphCL --aug: dnodes, pedges, subgraph, mask_nodes, random2 {dnodes, subgraph}, random3 (+pedges), random4 (+mask_nodes), none.",
       {"dnodes", "pedges", "subgraph", "mask_nodes", "random2", "random3", "random4", "none"}, {}, {}, blocks},
      {"augment.graphcl_quirks", ValueKind::kBool, "true",
       "Do what the released code does: self-loops on nodes 0..max-1, a one-hop subgraph, edgeless nodes pruned from node-dropping views (src/graph/graphcl_views.hpp).",
       {}, {}, {}, blocks},
      {"sampler.kind", ValueKind::kString, "\"uniform\"", "Where batches come from: uniform, batchsampler, knn, communities (src/sampler/batch_source.hpp).",
       {}, {}, {}, blocks},
      {"sampler.reshuffle", ValueKind::kBool, "false",
       "Uniform batches: a new order every epoch (false: one shuffle for the whole run, as GraphCL's loader).", {}, {}, {}, blocks},
      {"sampler.warmup_epochs", ValueKind::kInt, "1", "Graph samplers: uniform epochs that fill the bank before the first graph.", {}, 1, {}, blocks},
      {"sampler.refresh_every", ValueKind::kInt, "100", "Graph samplers: batches between rebuilds of the graph (t; 0 = never).", {}, 0, {}, blocks},
      {"sampler.overlap", ValueKind::kBool, "false",
       "Graph samplers: rebuild on a background thread while training (double-buffered graph, one refresh staler).", {}, {}, {}, blocks},
      {"sampler.candidates", ValueKind::kInt, "0",
       "BatchSampler/communities: M random candidates per anchor (0 = 10 K, at most N - 1; >= N = the exact kNN graph).", {}, 0, {}, blocks},
      {"sampler.neighbours", ValueKind::kInt, "0", "BatchSampler/communities: K out-neighbours (0 = N / 50 clamped to [5, 100]).", {}, 0, {}, blocks},
      {"sampler.block", ValueKind::kInt, "256", "Anchors that share one candidate pool in the graph build.", {}, 1, {}, blocks},
      {"sampler.restart", ValueKind::kReal, "0.2", "BatchSampler: restart probability alpha (the schedule's start).", {}, 0.0, 1.0, blocks},
      {"sampler.restart_schedule", ValueKind::kString, "\"official\"",
       "official: alpha - 0.02 per coverage epoch, floor 0.05; fixed: alpha throughout.", {"official", "fixed"}, {}, {}, blocks},
      {"sampler.epoch_mode", ValueKind::kString, "\"official\"", "BatchSampler coverage: official, strict or fixed (src/sampler/walk_batches.hpp).",
       {"official", "strict", "fixed"}, {}, {}, blocks},
      {"sampler.batches_per_coverage_epoch", ValueKind::kInt, "0", "epoch_mode fixed: batches per coverage epoch (0 = ceil(N / B)).", {}, 0, {}, blocks},
      {"sampler.step_cap", ValueKind::kInt, "0", "Walk steps after which a batch is filled with random vertices (0 = 100 B).", {}, 0, {}, blocks},
      {"sampler.walk_engine", ValueKind::kString, "\"auto\"",
       "distributed: METIS places the graph and walkers move between ranks; local: every rank walks the whole (replicated) graph; auto: local up to 2^26 graph entries.",
       {"auto", "distributed", "local"}, {}, {}, blocks},
      {"eval.epochs", ValueKind::kIntList, "[10, 20]", "Epochs (1-based) after which the SVM protocol scores the embeddings (GraphCL: 10 and 20).",
       {}, 1, {}, Resume::kFree},
      {"eval.kernel", ValueKind::kString, "\"rbf\"", "SVM kernel (GraphCL: rbf).", {"rbf", "linear"}},
      {"eval.standardize", ValueKind::kBool, "false",
       "Standardise each feature by each SVM fit's training rows (GraphCL: false, raw features).", {}, {}, {}},
      {"eval.folds", ValueKind::kInt, "10", "Outer stratified folds (GraphCL: 10; C by an inner 5-fold grid search).", {}, 2},
      {"eval.batch_size", ValueKind::kInt, "512", "Graphs per forward pass when embedding for the evaluation.", {}, 1},
      {"output.batches", ValueKind::kBool, "true", "Store every batch's members in results.h5 (table batches).", {}, {}, {}, Resume::kFree},
  };
  for (auto& k : optimizer_keys("train", "the encoder")) keys.push_back(k);
  return keys;
}

}  // namespace relfm::jobs
