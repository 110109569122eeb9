#include "harness/CallCommand.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "emu/hybrid/HybridProcess.h"
#include "emu/pe/ChpeMetadata.h"
#include "emu/pe/ImageLoader.h"
#include "harness/Diagnostics.h"
#include "harness/explore/JobLimit.h"
#include "support/EchoText.h"
#include "support/NumberText.h"

namespace hph {
namespace {

constexpr uint64_t kLowestBase = 0x10000;

nlohmann::json faultJson(const GuestFault& fault) {
  return {{"kind", faultKindName(fault.kind)}, {"pc", fault.pc},
          {"address", fault.address},          {"location", fault.location},
          {"instruction", fault.instruction},  {"detail", fault.detail},
          {"message", fault.describe()}};
}

}  // namespace

int runCall(const CallCommandOptions& options) {
  std::vector<uint64_t> args;
  for (const std::string& text : options.arguments) {
    auto value = parseInteger(text);
    if (!value)
      return reportError(badInput(fmt::format("argument '{}': not a decimal or 0x-hex 64-bit "
                                              "integer",
                                              echoText(text))));
    args.push_back(*value);
  }
  if (args.size() > kMaxCallArgs)
    return reportError(badInput(fmt::format("{} arguments: at most {} are supported", args.size(), kMaxCallArgs)));
  std::optional<uint64_t> base;
  if (options.base) {
    base = parseUnsigned(*options.base);
    if (!base)
      return reportError(
          badInput(fmt::format("--base '{}': not an unsigned decimal or 0x-hex integer", echoText(*options.base))));
  }

  auto image = readPeImageView(options.image, options.view, "--view");
  if (!image) return reportError(image.error());
  if (base && (*base < kLowestBase || *base > Machine::kStackBase || image->sizeOfImage > Machine::kStackBase - *base))
    // Below: page zero and null pointers; above: the harness's own stack, shims and
    // return sentinel, then non-canonical addresses.
    return reportError(badInput(fmt::format("--base 0x{:x}: {} must load inside 0x{:x}..0x{:x}", *base, options.image,
                                            kLowestBase, Machine::kStackBase)));
  if (auto room = checkRoomForEngines(1); !room) return reportError(room.error());
  const FunctionInfo* function = image->findFunction(options.function);
  if (!function)
    return reportError(badInput(fmt::format("{}: function '{}': no export, .pdata function or "
                                            "rva:0x... entry of that name",
                                            options.image, echoText(options.function))));
  CallOptions callOptions;
  callOptions.instructionBudget = options.budget;
  callOptions.precisePc = true;  // one call: exact fault locations matter more than speed
  // An image of x64 and Arm64EC code runs as a hybrid process: two engines over one memory.
  const bool hybrid = image->chpe && !pe::requireOneKindOfCode(*image);
  std::optional<CallResult> result;
  std::optional<uint64_t> crossings;
  if (hybrid) {
    auto process = hybrid::HybridProcess::create(*image, base);
    if (!process) return reportError(process.error());
    auto outcome = (*process)->call((*process)->loaded().address(function->begin), args, callOptions);
    if (!outcome) return reportError(outcome.error());
    result = outcome->call;
    crossings = outcome->crossings;
  } else {
    auto machine = Machine::create(*image->arch);
    if (!machine) return reportError(machine.error());
    // An ARM64X image's native view runs on its own engine: the function asked for is native
    // code (its export), as a native process would call it.
    auto loaded =
        loadImage(**machine, *image, base, !image->isArm64x ? HybridImages::kRefused : HybridImages::kAllowed);
    if (!loaded) return reportError(loaded.error());
    auto outcome = (*machine)->call(loaded->address(function->begin), args, callOptions);
    if (!outcome) return reportError(outcome.error());
    result = *outcome;
  }
  const CallResult* outcome = &*result;

  if (options.json) {
    nlohmann::json out = {{"image", options.image},
                          {"function", function->name},
                          {"arch", hybrid ? std::string_view("arm64ec") : image->arch->name()},
                          {"arguments", args},
                          {"instructions", outcome->instructions}};
    if (crossings) out["engine_crossings"] = *crossings;
    if (outcome->fault) {
      out["status"] = "fault";
      out["fault"] = faultJson(*outcome->fault);
    } else {
      out["status"] = "ok";
      out["result"] = outcome->value;
    }
    fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (outcome->fault) {
    fmt::print("{}: {}: guest fault: {}\n", options.image, function->name, outcome->fault->describe());
  } else {
    std::vector<std::string> shown;
    for (uint64_t a : args) shown.push_back(fmt::format("{:#x}", a));
    fmt::print("{}({}) = {} ({:#x}) in {} instructions{}\n", function->name, fmt::join(shown, ", "), outcome->value,
               outcome->value, outcome->instructions,
               crossings ? fmt::format(", {} crossings between the x64 and Arm64 engines", *crossings) : "");
  }
  return outcome->fault ? kExitViolated : kExitHolds;
}

}  // namespace hph
