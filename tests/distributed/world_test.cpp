// The torchrun variables read into a World, and every way they can be wrong.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "lvm/distributed/world.h"

namespace lvm::distributed {
namespace {

Environment env_of(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    const auto found = values.find(name);
    return found == values.end() ? nullptr : found->second.c_str();
  };
}

std::map<std::string, std::string> full_job() {
  return {{"RANK", "3"},
          {"WORLD_SIZE", "8"},
          {"LOCAL_RANK", "1"},
          {"LOCAL_WORLD_SIZE", "2"},
          {"MASTER_ADDR", "node0"},
          {"MASTER_PORT", "29500"}};
}

// The message of the error world_from_environment throws for `values`.
std::string error_for(const std::map<std::string, std::string>& values) {
  try {
    world_from_environment(env_of(values));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(WorldTest, NoRankNorWorldSizeIsOneProcess) {
  EXPECT_FALSE(world_from_environment(env_of({})).has_value());
  EXPECT_FALSE(world_from_environment(env_of({{"MASTER_ADDR", "x"}, {"LOCAL_RANK", "0"}})).has_value());
}

TEST(WorldTest, ReadsEveryVariable) {
  const auto world = world_from_environment(env_of(full_job()));
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(world->rank, 3);
  EXPECT_EQ(world->world_size, 8);
  EXPECT_EQ(world->local_rank, 1);
  EXPECT_EQ(world->local_world_size, 2);
  EXPECT_EQ(world->master_addr, "node0");
  EXPECT_EQ(world->master_port, 29500);
  EXPECT_FALSE(world->agent_store);
  EXPECT_EQ(world->restart, "0");
  EXPECT_EQ(describe(*world), "rank 3 of 8");
}

TEST(WorldTest, LocalValuesDefaultToTheGlobalOnesAndTheAgentStoreIsRead) {
  auto values = full_job();
  values.erase("LOCAL_RANK");
  values.erase("LOCAL_WORLD_SIZE");
  values["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  values["TORCHELASTIC_RESTART_COUNT"] = "2";
  const auto world = world_from_environment(env_of(values));
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(world->local_rank, 3);
  EXPECT_EQ(world->local_world_size, 8);
  EXPECT_TRUE(world->agent_store);
  EXPECT_EQ(world->restart, "2");
}

TEST(WorldTest, AMissingVariableIsNamed) {
  auto values = full_job();
  values.erase("MASTER_PORT");
  values.erase("MASTER_ADDR");
  EXPECT_NE(error_for(values).find("MASTER_ADDR, MASTER_PORT not set"), std::string::npos)
      << error_for(values);
  EXPECT_NE(error_for({{"WORLD_SIZE", "2"}}).find("RANK, MASTER_ADDR, MASTER_PORT not set"),
            std::string::npos)
      << error_for({{"WORLD_SIZE", "2"}});
}

TEST(WorldTest, BadValuesAreNamedWithTheirRange) {
  const auto with = [](const std::string& name, const std::string& value) {
    auto values = full_job();
    values[name] = value;
    return error_for(values);
  };
  EXPECT_NE(with("WORLD_SIZE", "0").find("WORLD_SIZE=0 is out of range [1,"), std::string::npos);
  EXPECT_NE(with("RANK", "8").find("RANK=8 is not below WORLD_SIZE=8"), std::string::npos);
  EXPECT_NE(with("RANK", "-1").find("RANK=-1 is out of range"), std::string::npos);
  EXPECT_NE(with("RANK", "two").find("RANK=\"two\" is not an integer"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "65536").find("MASTER_PORT=65536 is out of range [1, 65535]"),
            std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "80x").find("MASTER_PORT=\"80x\" is not an integer"), std::string::npos);
  EXPECT_NE(with("LOCAL_RANK", "2").find("LOCAL_RANK=2 is out of range [0, 1]"), std::string::npos);
  EXPECT_NE(with("MASTER_ADDR", "").find("MASTER_ADDR not set"), std::string::npos);
}

}  // namespace
}  // namespace lvm::distributed
