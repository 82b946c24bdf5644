// Starts relfm_scripted_llm_server on a free loopback port for one test and stops it (by its pid) after.
#pragma once

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

namespace relfm::testing {

class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<std::string> args) {
    port_file_ = std::filesystem::temp_directory_path() /
                 ("relfm_scripted_port_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::remove(port_file_);
    std::vector<std::string> argv_s = {RELFM_SCRIPTED_SERVER, "--port-file", port_file_.string()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn failed");
    posix_spawn_file_actions_destroy(&actions);
    for (int k = 0; k < 500 && port_ == 0; ++k) {
      std::ifstream in(port_file_);
      if (!(in >> port_)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (port_ == 0) throw std::runtime_error("the scripted server did not start");
  }
  ~ScriptedServer() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::filesystem::remove(port_file_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // GET /stats as JSON.
  nlohmann::json stats() const {
    std::string body;
    CURL* e = curl_easy_init();
    const std::string u = url() + "/stats";
    curl_easy_setopt(e, CURLOPT_URL, u.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* out) {
      static_cast<std::string*>(out)->append(d, s * n);
      return s * n;
    });
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(e);
    curl_easy_cleanup(e);
    return nlohmann::json::parse(body);
  }
  int64_t chat_calls() const { return stats()["chat_calls"].get<int64_t>(); }

 private:
  static int& counter() {
    static int c = 0;
    return c;
  }
  pid_t pid_ = 0;
  int port_ = 0;
  std::filesystem::path port_file_;
};

}  // namespace relfm::testing
