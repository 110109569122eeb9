// Status codes for every API boundary of the harness (in the style of Zydis' ZyanStatus):
// a small closed set, each mapped onto one of the command line's exit codes.
#pragma once

#include <string_view>

namespace hph {

enum class Status {
  kOk,
  kBadInput,          // malformed image, wrong argument, unknown function: exit 2
  kUnresolvedImport,  // guest needed an import no shim provides: exit 2 (input problem)
  kGuestFault,        // the guest crashed or ran out of budget: exit 1 (a finding)
  // A patch protocol's precondition does not hold for this function (or stop-the-world
  // gave up retrying): the input is well formed, the protocol cannot apply it. Only this
  // matches a scenario's `expect = "refused"`; exit 2 when it was not expected.
  kRefused,
  kInternal,  // a bug in the harness: exit 3
  // The request does not fit this process's limits (address space for the engines, ...):
  // exit 2 like bad input — the user changes the request or the limit — and never 1,
  // which would read as "property violated". The message says which limit.
  kResource,
};

// Exit codes shared by every subcommand (see docs/design.md, "Exit codes").
enum ExitCode : int {
  kExitHolds = 0,
  kExitViolated = 1,
  kExitBadInput = 2,
  kExitInternal = 3,
  // `hph check`: a search cut short (time, a cap, a signal) that found nothing. Not a
  // pass: CI stays red unless the run was told --accept-partial.
  kExitInconclusive = 4,
};

constexpr int exitCodeFor(Status status) {
  switch (status) {
  case Status::kOk: return kExitHolds;
  case Status::kGuestFault: return kExitViolated;
  case Status::kBadInput:
  case Status::kUnresolvedImport:
  case Status::kRefused:
  case Status::kResource: return kExitBadInput;
  case Status::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

constexpr std::string_view statusName(Status status) {
  switch (status) {
  case Status::kOk: return "ok";
  case Status::kBadInput: return "bad-input";
  case Status::kUnresolvedImport: return "unresolved-import";
  case Status::kGuestFault: return "guest-fault";
  case Status::kRefused: return "refused";
  case Status::kInternal: return "internal";
  case Status::kResource: return "resource";
  }
  return "internal";
}

}  // namespace hph
