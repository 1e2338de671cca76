// Fuzz target for the config loader. Checks, beyond "accept or ConfigError naming the source":
// an accepted config survives to_yaml -> parse_config unchanged (the documented round trip that
// `lvm train` relies on when it writes the resolved config.yaml of a run).
#include <sstream>
#include <vector>

#include "lvm/config/config.h"
#include "tests/fuzz/fuzz_targets.h"

namespace lvm::fuzz {

Outcome config_input(const uint8_t* data, size_t size) {
  if (size > (1 << 14)) return Outcome::kRejected;  // configs are short; keeps the fuzzer fast
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  std::istringstream lines(text);
  const std::string marker = "#--set ";
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(marker, 0) == 0) overrides.push_back(line.substr(marker.size()));

  const std::string source = "fuzz.yaml";
  config::ExperimentConfig parsed;
  try {
    parsed = config::parse_config(text, source, overrides);
  } catch (const config::ConfigError& e) {
    const std::string message = e.what();
    if (message.rfind(source, 0) != 0 && message.rfind("--set ", 0) != 0)
      finding("ConfigError names neither " + source + " nor the --set override: " + message);
    return Outcome::kRejected;
  }

  const std::string yaml = config::to_yaml(parsed);
  config::ExperimentConfig again;
  try {
    again = config::parse_config(yaml, "resolved.yaml");
  } catch (const config::ConfigError& e) {
    finding(std::string("the resolved config of an accepted one is rejected: ") + e.what() + "\n" + yaml);
  }
  if (again != parsed) finding("to_yaml -> parse_config changed the config:\n" + yaml);
  if (config::to_yaml(again) != yaml) finding("to_yaml is not stable over a round trip:\n" + yaml);
  return Outcome::kAccepted;
}

}  // namespace lvm::fuzz

LVM_FUZZ_TARGET(config_input)
