// hph: is it safe to apply this hotpatch to running processes?
// The command-line front end; each subcommand lives in its own *Command.cpp.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>

#include "emu/core/Status.h"
#include "harness/CallCommand.h"
#include "harness/InspectCommand.h"

int main(int argc, char** argv) {
  using namespace hph;
  CLI::App app{"hph: checks whether a hotpatch is safe to apply to running processes.\n"
               "Exit codes: 0 holds/success, 1 property violated or guest fault, 2 bad input, "
               "3 internal error."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hph ") + HPH_VERSION);

  InspectOptions inspect;
  CLI::App* inspectCmd = app.add_subcommand(
      "inspect", "Machine, sections, exports, functions and their hotpatchability, load config.");
  inspectCmd->add_option("IMAGE", inspect.image, "PE image (x64 or Arm64)")->required();
  inspectCmd->add_flag("--json", inspect.json, "machine-readable output");

  CallCommandOptions call;
  CLI::App* callCmd = app.add_subcommand(
      "call", "Run one function under emulation and print its 64-bit result.");
  callCmd->add_option("IMAGE", call.image, "PE image (x64 or Arm64)")->required();
  callCmd->add_option("FUNCTION", call.function, "export name, .pdata name (sub_<rva>) or rva:0x...")
      ->required();
  callCmd->add_option("ARG", call.arguments, "up to 8 integer arguments (decimal or 0x-hex)");
  callCmd->add_flag("--json", call.json, "machine-readable output; \"result\" is unsigned decimal");
  callCmd->add_option("--budget", call.budget, "instruction budget (stops runaway guests)")
      ->capture_default_str();
  callCmd->add_option("--base", call.base, "load address (default: the preferred ImageBase)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors are bad input: one line, exit 2.
    fmt::print(stderr, "hph: {}{}\n", e.what(), "  (see hph --help)");
    return kExitBadInput;
  }
  try {
    if (*inspectCmd) return runInspect(inspect);
    if (*callCmd) return runCall(call);
  } catch (const std::exception& e) {
    fmt::print(stderr, "hph: internal error: {}\n", e.what());
    return kExitInternal;
  }
  return kExitInternal;
}
