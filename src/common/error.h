#pragma once
// Every failure pith reports to a user is a pith::Error whose message already
// names the file (or argument) and the problem, so the CLI prints it as is.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace pith {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Error about a file: "PATH: message".
template <typename... Args>
[[noreturn]] void fail(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(path + ": " + fmt::format(f, std::forward<Args>(args)...));
}

// Error with no file involved (bad option, bad codec string...).
template <typename... Args>
[[noreturn]] void fail_msg(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace pith
