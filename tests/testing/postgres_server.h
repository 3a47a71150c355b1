// A real PostgreSQL 15 server for tests: a fresh cluster in a temporary
// directory, listening on a free loopback port (and a Unix socket in that
// directory only), stopped by its data directory (pg_ctl stop, never by
// process name) and removed at the end. As root, the server commands run as
// the `postgres` system user, since initdb refuses root.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/postgres.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {

class PostgresServer {
 public:
  static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

  // Creates and starts the cluster. Throws std::runtime_error.
  PostgresServer() {
    if (geteuid() == 0) {
      const passwd* user = getpwnam("postgres");
      if (user == nullptr)
        throw std::runtime_error("running as root but no `postgres` user exists");
      run_as_ = "postgres";
      if (chown(dir_.path().c_str(), user->pw_uid, user->pw_gid) != 0) {
        throw std::runtime_error("cannot chown " + dir_.path());
      }
    }
    run({bin("initdb"), "-D", data_dir(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
         "--locale=C", "--no-sync"});
    start_on_free_port();
  }

  ~PostgresServer() {
    try {
      stop();
    } catch (const std::exception&) {
      // Best effort: the postmaster PID from postmaster.pid, by PID only.
      if (pid_t pid = postmaster_pid(); pid > 0) kill(pid, SIGQUIT);
    }
  }

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // The server shared by every test of this binary, started on first use and
  // stopped at exit.
  static PostgresServer& shared() {
    static PostgresServer server;
    return server;
  }

  // The URL of `database` as the superuser.
  std::string url(const std::string& database = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  // Creates a new empty database named `name` (or a fresh name) and returns its URL.
  std::string create_database(std::string name = "") {
    static std::atomic<int> counter{0};
    if (name.empty()) name = "test_" + std::to_string(++counter);
    PgConnection admin(url());
    admin.exec("CREATE DATABASE \"" + name + "\"");
    return url(name);
  }

  // Stops the server and starts it again on the same data directory and port.
  void restart() {
    stop();
    start();
  }

  int port() const { return port_; }
  std::string data_dir() const { return dir_.path() + "/data"; }

 private:
  std::string bin(const char* name) const { return std::string(kBinDir) + "/" + name; }

  // Runs `argv` (as `run_as_` when set) in the temporary directory; throws
  // unless it exits with status 0. Its output goes to <dir>/commands.log.
  void run(std::vector<std::string> argv) const {
    if (!run_as_.empty()) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", run_as_, "--"});
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    const std::string log = dir_.path() + "/commands.log";
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
      }
      if (chdir(dir_.path().c_str()) != 0) _exit(126);
      execv(args[0], args.data());
      _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) throw std::runtime_error("waitpid failed");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::ifstream in(log);
      std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      throw std::runtime_error("`" + argv[run_as_.empty() ? 0 : 4] + "` failed:\n" + output);
    }
  }

  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (fd >= 0) close(fd);
      throw std::runtime_error("cannot find a free port");
    }
    close(fd);
    return ntohs(address.sin_port);
  }

  // Another process may take the port between free_port() and the start.
  void start_on_free_port() {
    for (int attempt = 1;; ++attempt) {
      port_ = free_port();
      std::ofstream(data_dir() + "/postgresql.conf", std::ios::app)
          << "port = " << port_ << "\n"
          << "listen_addresses = '127.0.0.1'\n"
          << "unix_socket_directories = '" << dir_.path() << "'\n"
          << "shared_buffers = '64MB'\n"
          << "max_connections = 200\n";
      try {
        start();
        return;
      } catch (const std::runtime_error&) {
        if (attempt == 3) throw;
      }
    }
  }

  void start() {
    run({bin("pg_ctl"), "start", "-D", data_dir(), "-l", dir_.path() + "/server.log", "-w", "-t",
         "60"});
    running_ = true;
  }

  void stop() {
    if (!running_) return;
    running_ = false;
    run({bin("pg_ctl"), "stop", "-D", data_dir(), "-m", "fast", "-w", "-t", "60"});
  }

  pid_t postmaster_pid() const {
    std::ifstream in(data_dir() + "/postmaster.pid");
    long pid = 0;
    return (in >> pid) ? static_cast<pid_t>(pid) : 0;
  }

  TempDir dir_;
  std::string run_as_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace genalytics::testing
