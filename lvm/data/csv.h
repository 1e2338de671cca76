#pragma once
// CSV files of numbers, one example per row: a user's own data for the Gaussian mixture.

#include <string>

#include <torch/types.h>

namespace lvm::data {

/// Reads rows of comma-separated decimal numbers (spaces around values allowed) into float64
/// [N, D] on the CPU. Every row must have the same number of values, each finite. Blank lines
/// and lines starting with '#' are skipped; a first line of which no field is a number is a header
/// and skipped. Throws DataError naming the file and line, e.g.
///   "points.csv:7: column 2: 'nan' is not a finite number (NaN and infinities are rejected)".
torch::Tensor read_csv(const std::string& path);

/// Writes x [N, D] (any floating dtype) as CSV, each value in its shortest exact (round-trip) form,
/// atomically. An optional header line (column names) goes first.
void write_csv(const std::string& path, const torch::Tensor& x, const std::string& header = "");

}  // namespace lvm::data
