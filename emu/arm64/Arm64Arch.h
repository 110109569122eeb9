// Arm64 backend: AAPCS64, Capstone decoding, the CMODX entry rule, exclusive-loop adds.
#pragma once

#include "emu/core/Arch.h"

namespace hph {

class Arm64Arch final : public Arch {
 public:
  ArchKind kind() const override { return ArchKind::kArm64; }
  std::string_view name() const override { return "arm64"; }
  uint16_t peMachine() const override { return 0xAA64; }
  const ArchFacts& facts() const override;

  Result<Engine> openEngine() const override;
  // Unicorn's Arm64 target uses 1 KiB pages; PE sections are 4 KiB aligned anyway, so
  // mapping in 4 KiB units keeps both architectures on the same layout.
  uint64_t pageSize() const override { return 0x1000; }
  int pcRegister() const override;
  int spRegister() const override;
  std::span<const StateRegister> stateRegisters() const override;
  std::span<const StateRegister> entryStateRegisters() const override;

  Result<void> prepareCall(const Engine& engine, const CallFrame& frame) const override;
  uint64_t returnValue(const Engine& engine) const override;
  uint64_t argument(const Engine& engine, size_t index) const override;
  uint64_t returnAddress(const Engine& engine) const override;
  void setReturnValue(const Engine& engine, uint64_t value) const override;
  void setThreadPointer(const Engine& engine, uint64_t teb) const override;
  std::span<const uint8_t> returnInstruction() const override;

  DecodedInstruction decode(std::span<const uint8_t> bytes, uint64_t address) const override;
  std::optional<SplittableAccess> splittableAccess(const Engine&, std::span<const uint8_t>, uint64_t) const override {
    return std::nullopt;
  }
  bool hasSplittableAccesses() const override { return false; }
  std::optional<AtomicAdd> atomicAdd(const Engine& engine, std::span<const uint8_t> code, uint64_t pc) const override;
  bool hasAtomicAdds() const override { return true; }
  bool atomicAddUnobserved(std::span<const uint8_t> code, uint64_t pc, const WalkRegisters& at, const GuestRead& read,
                           const CodeChanges& willChange) const override;
  std::optional<RegisterOnlyInstruction> registerOnly(std::span<const uint8_t> bytes, uint64_t pc) const override;
  uint32_t countInstructions(std::span<const uint8_t> block) const override;
  std::string describeInterrupt(uint32_t number) const override;
  bool isPadding(std::span<const uint8_t> bytes) const override;
  bool branchTargetsEnforced(std::span<const uint8_t> functionCode) const override;
  EntryPatchability entryPatchability(std::span<const uint8_t> before, std::span<const uint8_t> entry,
                                      uint64_t entryAddress) const override;
};

}  // namespace hph
