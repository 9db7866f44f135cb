#include "sweep/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace scalelab::sweep {

namespace {

nlohmann::json real(std::optional<double> v) {
  if (!v) return nullptr;
  if (std::isnan(*v)) return "nan";
  if (std::isinf(*v)) return *v > 0 ? "inf" : "-inf";
  return *v;
}

std::optional<double> real_of(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    return std::nan("");
  }
  return j.get<double>();
}

nlohmann::json run_json(const db::Run& r) {
  return {{"id", r.id},         {"sweep", r.sweep},       {"stage", r.stage},
          {"name", r.name},     {"arch", r.arch},         {"spec", r.spec_json},
          {"params", r.params}, {"nonembedding_params", r.nonembedding_params},
          {"tokens", r.tokens}, {"flops", r.flops},       {"lease", r.lease},
          {"attempts", r.attempts}, {"worker", r.worker}};
}

}  // namespace

void write_task(const std::string& dir, const Task& t) {
  const nlohmann::json j = {{"run", run_json(t.run)},           {"heartbeat_s", t.heartbeat_s},
                            {"checkpoint_every_s", t.checkpoint_every_s}, {"device", t.device},
                            {"threads", t.threads},             {"micro_batch", t.micro_batch}};
  std::filesystem::create_directories(dir);
  const std::string tmp = dir + "/task.json.tmp", path = dir + "/task.json";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(1) << "\n";
    if (!f.flush()) throw std::runtime_error(tmp + ": write failed");
  }
  std::filesystem::rename(tmp, path);
}

Task read_task(const std::string& dir) {
  const std::string path = dir + "/task.json";
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot read the task");
  try {
    const nlohmann::json j = nlohmann::json::parse(f);
    const nlohmann::json& r = j.at("run");
    Task t;
    t.run.id = r.at("id");
    t.run.sweep = r.at("sweep");
    t.run.stage = r.at("stage");
    t.run.name = r.at("name");
    t.run.arch = r.at("arch");
    t.run.spec_json = r.at("spec");
    t.run.params = r.at("params");
    t.run.nonembedding_params = r.at("nonembedding_params");
    t.run.tokens = r.at("tokens");
    t.run.flops = r.at("flops");
    t.run.lease = r.at("lease");
    t.run.attempts = r.at("attempts");
    t.run.worker = r.at("worker");
    t.run.status = db::RunStatus::Running;
    t.heartbeat_s = j.at("heartbeat_s");
    t.checkpoint_every_s = j.at("checkpoint_every_s");
    t.device = j.at("device");
    t.threads = j.at("threads");
    t.micro_batch = j.at("micro_batch");
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": malformed task: " + e.what());
  }
}

int64_t task_lease(const std::string& dir) {
  try {
    return read_task(dir).run.lease;
  } catch (const std::exception&) {
    return 0;
  }
}

std::string journal_path(const std::string& dir, int64_t lease) {
  return dir + "/journal-" + std::to_string(lease) + ".jsonl";
}

nlohmann::json to_json(const db::Metric& m) {
  return {{"step", m.step},          {"tokens", m.tokens},   {"train_loss", real(m.train_loss)},
          {"val_loss", real(m.val_loss)}, {"lr", real(m.lr)}, {"tokens_per_s", real(m.tokens_per_s)},
          {"elapsed_s", real(m.elapsed_s)}, {"grad_norm", real(m.grad_norm)}};
}

db::Metric metric_from_json(const std::string& run_id, const nlohmann::json& j) {
  db::Metric m;
  m.run_id = run_id;
  m.step = j.at("step");
  m.tokens = j.at("tokens");
  m.train_loss = real_of(j.at("train_loss"));
  m.val_loss = real_of(j.at("val_loss"));
  m.lr = real_of(j.at("lr"));
  m.tokens_per_s = real_of(j.at("tokens_per_s"));
  m.elapsed_s = real_of(j.at("elapsed_s"));
  if (j.contains("grad_norm")) m.grad_norm = real_of(j.at("grad_norm"));
  return m;
}

JournalWriter::JournalWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open the journal: " + std::strerror(errno));
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::write(const nlohmann::json& event, bool sync) {
  const std::string line = event.dump() + "\n";
  if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throw std::runtime_error(path_ + ": journal write failed: " + std::strerror(errno));
  if (sync) ::fsync(fd_);
}

std::vector<nlohmann::json> JournalReader::read_new() {
  std::vector<nlohmann::json> out;
  std::ifstream in(path, std::ios::binary);
  if (!in) return out;
  in.seekg(offset);
  std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t start = 0;
  for (size_t nl; (nl = chunk.find('\n', start)) != std::string::npos; start = nl + 1) {
    try {
      out.push_back(nlohmann::json::parse(chunk.substr(start, nl - start)));
    } catch (const nlohmann::json::exception&) {  // a torn line from a killed writer
    }
  }
  offset += static_cast<std::streamoff>(start);
  return out;
}

}  // namespace scalelab::sweep
