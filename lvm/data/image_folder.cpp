#include "lvm/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lvm/data/idx.h"
#include "lvm/io/png.h"

namespace lvm::data {
namespace {

namespace fs = std::filesystem;

bool is_png(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png";
}

// The PNG files and the subfolders of `dir`, each in name order.
void list_folder(const fs::path& dir, std::vector<fs::path>& pngs, std::vector<fs::path>& folders) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw DataError(dir.string() + ": not a folder (data.dataset: images reads a folder of PNG files)");
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) {
      folders.push_back(it->path());
    } else if (is_png(it->path())) {
      pngs.push_back(it->path());
    }
  }
  if (ec) throw DataError(dir.string() + ": cannot list the folder: " + ec.message());
  std::sort(pngs.begin(), pngs.end());
  std::sort(folders.begin(), folders.end());
}

// One PNG as grey levels uint8 [H, W].
torch::Tensor read_grey(const fs::path& path) {
  torch::Tensor image;
  try {
    image = io::read_png(path.string());  // [C, H, W]
  } catch (const io::PngError& e) {
    throw DataError(e.what());
  }
  const int64_t channels = image.size(0);
  if (channels == 2 && !(image[1] == 255).all().item<bool>()) {
    throw DataError(path.string() + ": a grey image with transparent pixels; the images must be opaque");
  }
  if (channels > 2) {
    throw DataError(fmt::format(
        "{}: a colour image ({} channels); data.dataset: images reads grey images only for now: convert "
        "the folder to grey levels",
        path.string(), channels));
  }
  return image[0];
}

}  // namespace

ImageFolder read_image_folder(const std::string& dir) {
  std::vector<fs::path> pngs, folders;
  list_folder(dir, pngs, folders);
  ImageFolder out;
  std::vector<std::pair<fs::path, int64_t>> files;  // (file, label)
  if (!pngs.empty()) {
    // Subfolders beside images would make the labels ambiguous; empty ones are harmless.
    for (const auto& folder : folders) {
      std::vector<fs::path> inner, nested;
      list_folder(folder, inner, nested);
      if (!inner.empty()) {
        throw DataError(dir + ": holds PNG files and class folders (" + folder.filename().string() +
                        "); use one layout: DIR/*.png, or DIR/CLASS/*.png");
      }
    }
    for (const auto& png : pngs) files.emplace_back(png, 0);
  } else {
    for (const auto& folder : folders) {
      std::vector<fs::path> inner, nested;
      list_folder(folder, inner, nested);
      if (inner.empty()) continue;  // not a class: no images
      const auto label = static_cast<int64_t>(out.class_names.size());
      out.class_names.push_back(folder.filename().string());
      for (const auto& png : inner) files.emplace_back(png, label);
    }
  }
  if (files.empty()) throw DataError(dir + ": no PNG files in the folder or in its subfolders");

  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  for (const auto& [path, label] : files) {
    auto image = read_grey(path);
    if (!images.empty() && image.sizes() != images.front().sizes()) {
      throw DataError(fmt::format("{}: the image is {}x{} but {} is {}x{}; all images must have one size",
                                  path.string(), image.size(1), image.size(0), files.front().first.string(),
                                  images.front().size(1), images.front().size(0)));
    }
    images.push_back(std::move(image));
    labels.push_back(label);
  }
  out.images = torch::stack(images);
  out.labels = torch::tensor(labels, torch::kInt64);
  return out;
}

}  // namespace lvm::data
