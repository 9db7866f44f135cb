#include "train/branches.h"

#include <filesystem>
#include <stdexcept>

#include "db/lineage.h"
#include "models/spec/wsd.h"

namespace scalelab::train {

BranchHooks::BranchHooks(db::Database* db, const db::Run& run, const spec::RunSpec& s,
                         std::string run_dir)
    : db_(db), run_(run), spec_(s), run_dir_(std::move(run_dir)) {
  for (const spec::BranchPoint& b : spec::branch_points(s)) points_.insert(b.step);
  last_step_ = spec::train_steps(s);
  if (!db_ && (!points_.empty() || !spec_.branch_of.empty()))
    throw std::runtime_error("run " + run.id +
                             " is a WSD parent or branch: those train under a local scheduler "
                             "(`scalelab run`), whose database holds their lineage, not as jobs "
                             "on other nodes");
}

std::string BranchHooks::point_path(const std::string& run_dir, int64_t step) {
  return run_dir + "/branch-" + std::to_string(step) + ".pt";
}

std::optional<CheckpointInfo> BranchHooks::load_start(const std::string& own_ckpt,
                                                      torch::nn::Module& model, AdamW& opt) {
  if (auto own = load_checkpoint(own_ckpt, run_.id, model, opt)) {
    started_from_ = own->loaded_from;
    return own;
  }
  if (spec_.branch_of.empty()) return std::nullopt;
  const std::string who = "branch " + run_.id + " of run " + spec_.branch_of;
  const auto point = db::branch_point(*db_, spec_.branch_of, spec_.branch_step);
  if (!point)
    throw std::runtime_error(who + ": the parent has not checkpointed step " +
                             std::to_string(spec_.branch_step) + " yet");
  if (!std::filesystem::exists(point->path))
    throw std::runtime_error(who + ": the parent's checkpoint " + point->path +
                             " is missing (train the parent again to rewrite it)");
  std::optional<CheckpointInfo> c = load_checkpoint(point->path, spec_.branch_of, model, opt);
  if (c->step != spec_.branch_step)
    throw std::runtime_error(who + ": " + point->path + " is at step " + std::to_string(c->step) +
                             ", the branch starts at " + std::to_string(spec_.branch_step));
  c->run_id = run_.id;  // its own checkpoints from here on are the branch's
  started_from_ = point->path + " (its parent's branch point)";
  return c;
}

void BranchHooks::save_point(const CheckpointInfo& at, torch::nn::Module& model,
                             const AdamW& opt) {
  const std::string path =
      std::filesystem::absolute(point_path(run_dir_, at.step)).lexically_normal().string();
  CheckpointInfo c = at;
  c.run_id = run_.id;
  save_checkpoint(path, c, model, opt);
  db::record_branch_point(*db_, {run_.id, at.step, at.tokens, path, ""});
}

}  // namespace scalelab::train
