#include "lvm/models/image_data_rules.h"

#include <fmt/format.h>

namespace lvm {

void check_image_model_data(const config::ExperimentConfig& config, const config::RuleContext& context,
                            const std::string& model_type, const std::string& likelihood) {
  const config::DataConfig& data = config.data;
  if (likelihood == "bernoulli" && data.binarize == "none" && !data.bernoulli_on_grey) {
    context.fail("data.binarize",
                 "none with model.likelihood: bernoulli: a Bernoulli likelihood on grey levels in [0,1] is a "
                 "cross-entropy, not a likelihood (it is not normalised over the grey values, so its "
                 "log-likelihood cannot be compared with published results); binarise the data "
                 "(data.binarize: dynamic or static), use model.likelihood: gaussian, or set "
                 "data.bernoulli_on_grey: true to train on grey levels anyway");
  }
  if (config::is_vector_dataset(data)) {
    context.fail("data.dataset",
                 fmt::format("{} data are vectors, for a model of vectors such as model.type: gmm; a {} "
                             "trains on images (mnist, fashion_mnist, npy)",
                             data.dataset, model_type));
  }
  if (data.pca_dim > 0) {
    context.fail(
        "data.pca_dim",
        fmt::format("PCA projection is for vector data (a model such as gmm), not for a {}", model_type));
  }
}

}  // namespace lvm
