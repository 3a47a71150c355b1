// error_answer_bench: the server's peak memory under the error-answer attack
// -- bodies of a million `{}` lines, every one a rejected event -- beside
// its body limit and its memory after start. Goal: peak RSS growth under
// one attack request within 4x the body limit (it was ~1 GB, 127 MB answers).
//
// `genalytics serve` runs as its own process (the binary next to this one's
// directory by default) on a scratch store and a free port; the bench sends
// the attack once, then `--parallel` at once while timing /health, and reads
// the server's VmRSS / VmHWM from /proc/PID/status after each phase.
#include <fmt/format.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"

extern char** environ;

namespace genalytics::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kGoalPeakOverBodyLimit = 4.0;

struct Flags {
  std::string genalytics;  // path of the binary; default: ../genalytics beside this one
  int64_t lines = 1'000'000;
  int parallel = 4;
  int64_t body_limit = 16 * 1024 * 1024;
};

// A port that was free a moment ago.
uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  close(fd);
  return ntohs(address.sin_port);
}

// A field of /proc/PID/status in kB; throws when the process is gone.
int64_t status_kb(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::stoll(line.substr(field.size() + 1));
    }
  }
  throw std::runtime_error(fmt::format("no {} for process {}", field, pid));
}

// `genalytics serve` in its own process, stopped with SIGTERM at scope exit.
class ServerProcess {
 public:
  ServerProcess(const Flags& flags, const std::string& dir) : port_(free_port()) {
    const std::string config = dir + "/config.json";
    std::ofstream(config) << fmt::format(R"({{"server": {{"body_limit_bytes": {}}}}})",
                                         flags.body_limit);
    const std::string log = dir + "/serve.log";
    std::vector<std::string> args = {flags.genalytics, "serve",       "--host",
                                     "127.0.0.1",      "--port",      std::to_string(port_),
                                     "--data-dir",     dir + "/data", "--config",
                                     config};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int error = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) throw std::runtime_error("cannot start " + flags.genalytics);
    for (int attempt = 0;; ++attempt) {
      try {
        if (KeepAliveClient(port_).get("/health").status == 200) break;
      } catch (const std::exception&) {
        if (attempt == 200) throw std::runtime_error("the server did not start; see " + log);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  ~ServerProcess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  pid_t pid_ = 0;
};

struct AttackResult {
  int status = 0;
  size_t answer_bytes = 0;
  double seconds = 0;
};

AttackResult attack(uint16_t port, const std::string& body) {
  const auto start = Clock::now();
  KeepAliveClient client(port);
  const HttpReply reply = client.send(boost::beast::http::verb::post, "/api/v1/events/generation",
                                      body, "application/x-ndjson");
  return {reply.status, reply.body.size(),
          std::chrono::duration<double>(Clock::now() - start).count()};
}

double mb(int64_t kb) { return static_cast<double>(kb) / 1024.0; }

int run(const Flags& flags) {
  std::string body;
  body.reserve(static_cast<size_t>(flags.lines) * 3);
  for (int64_t i = 0; i < flags.lines; ++i) body += "{}\n";
  if (static_cast<int64_t>(body.size()) > flags.body_limit) {
    throw std::runtime_error("the attack body is over the body limit; raise --body-limit");
  }

  ScratchDir dir;
  ServerProcess server(flags, dir.path());
  const int64_t baseline_kb = status_kb(server.pid(), "VmRSS");
  const double limit_mb = static_cast<double>(flags.body_limit) / (1024.0 * 1024.0);
  fmt::print("error_answer_bench: {} lines of {{}} ({:.1f} MB), server pid {}\n",
             with_commas(flags.lines), static_cast<double>(body.size()) / 1e6, server.pid());
  fmt::print("  body limit {:.0f} MiB, RSS after start {:.1f} MiB\n", limit_mb, mb(baseline_kb));

  const AttackResult one = attack(server.port(), body);
  const int64_t one_peak_kb = status_kb(server.pid(), "VmHWM");
  fmt::print("  1 request:  {} with a {} B answer in {:.2f} s; peak RSS {:.1f} MiB (+{:.1f} MiB = "
             "{:.2f}x the body limit)\n",
             one.status, with_commas(static_cast<int64_t>(one.answer_bytes)), one.seconds,
             mb(one_peak_kb), mb(one_peak_kb - baseline_kb),
             mb(one_peak_kb - baseline_kb) / limit_mb);

  std::vector<AttackResult> results(static_cast<size_t>(flags.parallel));
  std::atomic<int> running{flags.parallel};
  std::vector<std::thread> senders;
  for (int i = 0; i < flags.parallel; ++i) {
    senders.emplace_back([&, i] {
      results[static_cast<size_t>(i)] = attack(server.port(), body);
      --running;
    });
  }
  std::vector<double> health_ms;
  KeepAliveClient health(server.port());
  while (running > 0) {
    const auto start = Clock::now();
    health.get("/health");
    health_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (std::thread& sender : senders) sender.join();
  const int64_t all_peak_kb = status_kb(server.pid(), "VmHWM");
  double slowest = 0;
  for (const AttackResult& r : results) {
    if (r.status != 400) throw std::runtime_error(fmt::format("status {}", r.status));
    slowest = std::max(slowest, r.seconds);
  }
  fmt::print("  {} at once: all 400 in {:.2f} s; peak RSS {:.1f} MiB (+{:.1f} MiB = {:.2f}x the "
             "body limit); /health max {:.1f} ms over {} probes\n",
             flags.parallel, slowest, mb(all_peak_kb), mb(all_peak_kb - baseline_kb),
             mb(all_peak_kb - baseline_kb) / limit_mb,
             health_ms.empty() ? 0.0 : *std::max_element(health_ms.begin(), health_ms.end()),
             health_ms.size());
  const double ratio = mb(one_peak_kb - baseline_kb) / limit_mb;
  fmt::print("  goal: one request's peak growth <= {:.0f}x the body limit: {}\n",
             kGoalPeakOverBodyLimit, ratio <= kGoalPeakOverBodyLimit ? "met" : "MISSED");
  return one.status == 400 && ratio <= kGoalPeakOverBodyLimit ? 0 : 1;
}

}  // namespace
}  // namespace genalytics::bench

int main(int argc, char** argv) {
  genalytics::bench::Flags flags;
  CLI::App app("error_answer_bench: peak RSS of genalytics serve under bodies of rejected events");
  app.add_option("--genalytics", flags.genalytics,
                 "the genalytics binary (default: ../genalytics beside this bench)");
  app.add_option("--lines", flags.lines, "{} lines per attack body")->check(CLI::PositiveNumber);
  app.add_option("--parallel", flags.parallel, "attack requests at once")->check(CLI::PositiveNumber);
  app.add_option("--body-limit", flags.body_limit, "the server's body limit in bytes");
  CLI11_PARSE(app, argc, argv);
  if (flags.genalytics.empty()) {
    flags.genalytics =
        (std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "genalytics")
            .string();
  }
  try {
    return genalytics::bench::run(flags);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error_answer_bench: {}\n", e.what());
    return 1;
  }
}
