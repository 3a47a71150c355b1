// The model files of the demo's simulated service: every checkpoint, LoRA,
// VAE and ControlNet on its workers' disks, with what both the traffic (which
// names them in generations) and the fleet (which downloads, loads and checks
// them) need to know. Internal to demo/.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "event/model_uses.h"

namespace genalytics::demo_model {

// The architecture a model belongs to: a LoRA, VAE or ControlNet works only
// with checkpoints of its family.
enum class ModelFamily : uint8_t { kSdxl, kSd15, kFlux };

// The checkpoint a family's LoRAs, VAEs and ControlNets name as base_model.
constexpr std::string_view base_checkpoint(ModelFamily family) {
  switch (family) {
    case ModelFamily::kSdxl:
      return "sdxl_base_1.0";
    case ModelFamily::kSd15:
      return "sd15_pruned";
    case ModelFamily::kFlux:
      return "flux1_dev";
  }
  return {};
}

struct ModelFile {
  std::string_view id;  // the file stem, as generations name it
  ModelRole role;       // its kind: model_kind_of(role)
  ModelFamily family;
  int64_t size_bytes;  // on disk
  int64_t vram_mb;     // on a GPU when loaded
  // How often generations of the family pick it among the add-ons of its
  // role; 0: on disk but never named (checkpoints: their traffic is in the
  // generator's model profiles).
  double weight;
  // Distillation LoRAs (Lightning, LCM) run at this many steps; 0: any.
  int fixed_steps;
};

// clang-format off
inline constexpr ModelFile kModelFiles[] = {
    // Checkpoints.
    {"illustriousXL_v01",             ModelRole::kCheckpoint, ModelFamily::kSdxl,  6'938'040'682, 6'900,  0, 0},
    {"sdxl_base_1.0",                 ModelRole::kCheckpoint, ModelFamily::kSdxl,  6'938'078'334, 6'900,  0, 0},
    {"flux1_dev",                     ModelRole::kCheckpoint, ModelFamily::kFlux, 23'802'932'552, 17'400, 0, 0},
    {"sd15_pruned",                   ModelRole::kCheckpoint, ModelFamily::kSd15,  4'265'146'304, 2'600,  0, 0},
    {"juggernautXL_v9",               ModelRole::kCheckpoint, ModelFamily::kSdxl,  7'105'350'536, 7'050,  0, 0},
    {"ponyDiffusionV6",               ModelRole::kCheckpoint, ModelFamily::kSdxl,  6'938'041'050, 6'900,  0, 0},
    {"realvisXL_v5",                  ModelRole::kCheckpoint, ModelFamily::kSdxl,  6'938'043'576, 6'900,  0, 0},
    {"dreamshaper_8",                 ModelRole::kCheckpoint, ModelFamily::kSd15,  2'132'625'894, 2'400,  0, 0},
    {"animagineXL_v31",               ModelRole::kCheckpoint, ModelFamily::kSdxl,  6'938'374'098, 6'900,  0, 0},
    // LoRAs.
    {"add_detail_xl",                 ModelRole::kLora,       ModelFamily::kSdxl,    228'455'732,   220, 0.30, 0},
    {"sdxl_lightning_8step_lora",     ModelRole::kLora,       ModelFamily::kSdxl,    393'854'592,   380, 0.20, 8},
    {"pixel_art_xl_v1.1",             ModelRole::kLora,       ModelFamily::kSdxl,    170'543'052,   165, 0.12, 0},
    {"watercolor_style_xl",           ModelRole::kLora,       ModelFamily::kSdxl,     56'115'376,    55, 0.14, 0},
    {"film_grain_xl",                 ModelRole::kLora,       ModelFamily::kSdxl,     21'965'624,    22, 0.12, 0},
    {"offset_noise_xl",               ModelRole::kLora,       ModelFamily::kSdxl,     49'553'604,    48, 0.12, 0},
    {"cyberpunk_style_xl",            ModelRole::kLora,       ModelFamily::kSdxl,    143'886'210,   140, 0,    0},
    {"claymation_xl",                 ModelRole::kLora,       ModelFamily::kSdxl,     91'232'960,    88, 0,    0},
    {"add_detail",                    ModelRole::kLora,       ModelFamily::kSd15,     37'861'176,    37, 0.45, 0},
    {"lcm_lora_sd15",                 ModelRole::kLora,       ModelFamily::kSd15,    134'621'556,   130, 0.35, 6},
    {"epi_noiseoffset2",              ModelRole::kLora,       ModelFamily::kSd15,     75'610'120,    73, 0.20, 0},
    {"papercut_sd15",                 ModelRole::kLora,       ModelFamily::kSd15,     37'872'048,    37, 0,    0},
    {"flux_realism_lora",             ModelRole::kLora,       ModelFamily::kFlux,     22'437'240,    22, 1.00, 0},
    // VAEs.
    {"sdxl_vae",                      ModelRole::kVae,        ModelFamily::kSdxl,    334'641'164,   160, 1.00, 0},
    {"vae-ft-mse-840000-ema-pruned",  ModelRole::kVae,        ModelFamily::kSd15,    334'695'179,   160, 1.00, 0},
    // ControlNets.
    {"controlnet_canny_sdxl",         ModelRole::kControlnet, ModelFamily::kSdxl,  1'396'431'568, 1'340, 0.60, 0},
    {"controlnet_depth_sdxl",         ModelRole::kControlnet, ModelFamily::kSdxl,  1'396'431'568, 1'340, 0.40, 0},
    {"control_v11p_sd15_canny",       ModelRole::kControlnet, ModelFamily::kSd15,  1'445'157'124,   700, 0.55, 0},
    {"control_v11p_sd15_openpose",    ModelRole::kControlnet, ModelFamily::kSd15,  1'445'157'124,   700, 0.45, 0},
};
// clang-format on

// The one model whose file is damaged: its health checks fail, a load of it
// fails now and then, and generations using it fail often.
inline constexpr std::string_view kDamagedModelId = "pixel_art_xl_v1.1";

// The catalogue's entry for `id`, or nullptr. Usable at compile time.
constexpr const ModelFile* find_model_file(std::string_view id) {
  for (const ModelFile& file : kModelFiles) {
    if (file.id == id) return &file;
  }
  return nullptr;
}

// The family of checkpoint `id`; a compile-time error when it is not a
// catalogued checkpoint (for the generator's constant tables).
// (No pointer comparison here: under -fsanitize=undefined GCC does not
// treat one as a constant expression.)
consteval ModelFamily checkpoint_family(std::string_view id) {
  for (const ModelFile& file : kModelFiles) {
    if (file.id == id && file.role == ModelRole::kCheckpoint) return file.family;
  }
  throw std::logic_error("not a catalogued checkpoint");
}

}  // namespace genalytics::demo_model
