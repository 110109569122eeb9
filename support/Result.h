// Errors as values: Result<T> holds either a T or an Error (g++ 12 has no std::expected).
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

#include "support/Status.h"

namespace hph {

struct Error {
  Status status = Status::kInternal;
  // One line, ready to print: for bad input it names the file and the field.
  std::string message;
};

inline Error badInput(std::string message) { return {Status::kBadInput, std::move(message)}; }
inline Error refusal(std::string message) { return {Status::kRefused, std::move(message)}; }
inline Error internalError(std::string message) { return {Status::kInternal, std::move(message)}; }

template <class T> class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }
  Status status() const { return ok() ? Status::kOk : error().status; }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
template <> class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(failed_);
    return error_;
  }
  Status status() const { return ok() ? Status::kOk : error_.status; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace hph
