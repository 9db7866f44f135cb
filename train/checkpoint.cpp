#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "train/checkpoint_file.h"

namespace scalelab::train {

namespace {

// A checkpoint of another run: not a corrupt file to fall back from, a mistake.
struct WrongRun : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The first line of a c10::Error is enough; its backtrace is noise here.
std::string first_line(const std::string& what) { return what.substr(0, what.find('\n')); }

// Reads one checkpoint file (nullopt when absent); throws WrongRun, or
// std::runtime_error saying what is wrong with the file.
std::optional<CheckpointInfo> load_one(const std::string& path, const std::string& expect_run_id,
                                       torch::nn::Module& model, AdamW& opt) {
  std::optional<std::string> payload = read_checkpoint_file(path);  // checks the checksum
  if (!payload) return std::nullopt;
  CheckpointInfo info;
  info.loaded_from = path;
  try {
    torch::serialize::InputArchive root;
    root.load_from(payload->data(), payload->size());
    c10::IValue v;
    root.read("run_id", v);
    info.run_id = v.toStringRef();
    if (info.run_id != expect_run_id)
      throw WrongRun("checkpoint '" + path + "' belongs to run " + info.run_id + ", not " +
                     expect_run_id + " (delete it to restart the run from scratch)");
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
  } catch (const WrongRun&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(first_line(e.what()));
  }
  return info;
}

// LibTorch's writer says "file write failed"; the free space says why.
std::string disk_note(const std::string& path) {
  std::error_code ec;
  const auto dir = std::filesystem::absolute(path, ec).parent_path();
  const std::filesystem::space_info s = std::filesystem::space(dir, ec);
  if (ec || s.available > (1u << 20)) return "";
  return "; the disk is full (" + std::to_string(s.available) + " bytes free on " + dir.string() + ")";
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
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) throw std::runtime_error(std::strerror(errno));
    int write_errno = 0;
    // LibTorch's file writer aborts the process when a write comes up short (a
    // full disk: "enforce fail at inline_container.cc"), so the bytes are
    // written here and a failure is raised after it returns.
    root.save_to([&](const void* buf, size_t n) -> size_t {
      const char* p = static_cast<const char*>(buf);
      for (size_t done = 0; write_errno == 0 && done < n;) {
        const ssize_t w = ::write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) write_errno = w < 0 ? errno : ENOSPC;
        else done += static_cast<size_t>(w);
      }
      return n;
    });
    if (::close(fd) != 0 && write_errno == 0) write_errno = errno;
    if (write_errno != 0) throw std::runtime_error(std::strerror(write_errno));
    seal_checkpoint_file(tmp);  // checksum trailer, fsync
  } catch (const std::exception& e) {
    const std::string note = disk_note(tmp);  // before the partial file frees its space
    std::remove(tmp.c_str());
    throw std::runtime_error("checkpoint: cannot write '" + tmp + "': " + first_line(e.what()) +
                             note + " (the previous checkpoint is kept)");
  }
  rotate_checkpoint(path);
}

std::optional<CheckpointInfo> load_checkpoint(const std::string& path,
                                              const std::string& expect_run_id,
                                              torch::nn::Module& model, AdamW& opt) {
  std::string why;  // what is wrong with the newest ("" when it is missing)
  try {
    if (auto info = load_one(path, expect_run_id, model, opt)) return info;
  } catch (const WrongRun&) {
    throw;
  } catch (const std::exception& e) {
    why = e.what();
  }
  const std::string prev = previous_checkpoint_path(path);
  const std::string newest = "checkpoint '" + path + "' " + (why.empty() ? "is missing" : "is unusable: " + why);
  std::optional<CheckpointInfo> info;
  try {
    info = load_one(prev, expect_run_id, model, opt);
  } catch (const WrongRun&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(newest + ", and so is the previous one, '" + prev + "': " + e.what() +
                             " (delete them to restart the run from scratch)");
  }
  if (!info) {
    if (why.empty()) return std::nullopt;  // a run that never checkpointed
    throw std::runtime_error(newest + ", and there is no previous one (delete it to restart the " +
                             "run from scratch)");
  }
  // A crash between the two renames of a rotation leaves only the previous one.
  info->fallback_reason =
      newest + "; resumed from the previous one, '" + prev + "', at step " + std::to_string(info->step);
  return info;
}

}  // namespace scalelab::train
