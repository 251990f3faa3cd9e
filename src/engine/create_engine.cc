#include "engine/create_engine.h"

#include "engine/serving_engine.h"

namespace cachet::engine {

Result<std::unique_ptr<Engine>> CreateEngine(std::shared_ptr<model::Model> model,
                                             const EngineConfig& config) {
  CACHET_ASSIGN_OR_RETURN(auto engine, ServingEngine::Create(std::move(model), config));
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace cachet::engine
