#include <gtest/gtest.h>

#include <cmath>

#include "lvm/train/schedule.h"

namespace lvm::train {
namespace {

TEST(Schedule, EachKindFollowsItsFormula) {
  config::TrainConfig t;
  t.lr = 1e-3;
  t.epochs = 10;
  t.gamma = 0.5;
  t.step_size = 3;
  t.schedule = "none";
  EXPECT_DOUBLE_EQ(learning_rate(t, 7), 1e-3);
  t.schedule = "step";
  EXPECT_DOUBLE_EQ(learning_rate(t, 2), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(t, 3), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(t, 7), 2.5e-4);
  t.schedule = "exponential";
  EXPECT_DOUBLE_EQ(learning_rate(t, 2), 2.5e-4);
  t.schedule = "cosine";
  t.lr_min = 1e-4;
  EXPECT_DOUBLE_EQ(learning_rate(t, 0), 1e-3);
  EXPECT_NEAR(learning_rate(t, 5), 5.5e-4, 1e-15);
  EXPECT_NEAR(learning_rate(t, 10), 1e-4, 1e-15);
}

}  // namespace
}  // namespace lvm::train
