#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace scalelab::train {

namespace {

void fsync_path(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointInfo& info, torch::nn::Module& model,
                     const AdamW& opt) {
  torch::serialize::OutputArchive root;
  torch::serialize::OutputArchive m, o;
  model.save(m);
  opt.save(o);
  root.write("model", m);
  root.write("optimizer", o);
  root.write("run_id", c10::IValue(info.run_id));
  root.write("step", c10::IValue(info.step));
  root.write("tokens", c10::IValue(info.tokens));
  root.write("elapsed_s", c10::IValue(info.elapsed_s));
  root.write("window_steps", c10::IValue(info.window_steps));
  root.write("window_loss_sum", c10::IValue(info.window_loss_sum));
  root.write("window_grad_norm_sum", c10::IValue(info.window_grad_norm_sum));
  const std::string tmp = path + ".tmp";
  try {
    root.save_to(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw std::runtime_error("checkpoint: cannot write '" + tmp + "': " + e.what());
  }
  fsync_path(tmp);
  std::filesystem::rename(tmp, path);
  fsync_path(std::filesystem::path(path).parent_path().string());
}

std::optional<CheckpointInfo> load_checkpoint(const std::string& path,
                                              const std::string& expect_run_id,
                                              torch::nn::Module& model, AdamW& opt) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  CheckpointInfo info;
  try {
    torch::serialize::InputArchive root;
    root.load_from(path);
    c10::IValue v;
    root.read("run_id", v);
    info.run_id = v.toStringRef();
    if (info.run_id != expect_run_id)
      throw std::runtime_error("belongs to run " + info.run_id + ", not " + expect_run_id);
    root.read("step", v);
    info.step = v.toInt();
    root.read("tokens", v);
    info.tokens = v.toInt();
    root.read("elapsed_s", v);
    info.elapsed_s = v.toDouble();
    root.read("window_steps", v);
    info.window_steps = v.toInt();
    root.read("window_loss_sum", v);
    info.window_loss_sum = v.toDouble();
    root.read("window_grad_norm_sum", v);
    info.window_grad_norm_sum = v.toDouble();
    torch::serialize::InputArchive m, o;
    root.read("model", m);
    root.read("optimizer", o);
    model.load(m);
    opt.load(o);
  } catch (const std::exception& e) {
    // The first line of a c10::Error is enough; its backtrace is noise here.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw std::runtime_error("checkpoint '" + path + "' is unusable: " + what +
                             " (delete it to restart the run from scratch)");
  }
  return info;
}

}  // namespace scalelab::train
