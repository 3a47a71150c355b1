// Over 400 lines: one simulation (users, jobs, the queue, the models'
// profiles and the add-ons generations name) whose parts share the random
// streams that keep it reproducible; split, they would have to pass that
// state around.
#include "demo/traffic_generator.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <deque>
#include <limits>
#include <numbers>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <tuple>
#include <utility>

#include "demo/demo_model.h"
#include "demo/model_catalog.h"
#include "event/time.h"

namespace genalytics {
namespace {

using namespace demo_model;

enum class ErrorKind : uint8_t {
  kOutOfMemory,
  kTimeout,
  kModelLoadFailed,
  kInvalidPrompt,
  kNsfwFiltered
};
constexpr size_t kErrorKinds = 5;

constexpr std::string_view kOutOfMemoryMessages[] = {
    "CUDA out of memory. Tried to allocate 2.50 GiB (GPU 0; 23.65 GiB total capacity; "
    "19.87 GiB already allocated)",
    "CUDA out of memory while decoding latents with the VAE",
    "torch.cuda.OutOfMemoryError: allocation of 1.27 GiB failed with 0.96 GiB free",
};
constexpr std::string_view kTimeoutMessages[] = {
    "Generation exceeded the 180 s time limit",
    "Worker stopped sending heartbeats; job timed out",
    "No progress update from the ComfyUI worker for 60 s",
};
constexpr std::string_view kModelLoadFailedMessages[] = {
    "Checkpoint file not found on worker",
    "Checkpoint hash mismatch after download",
    "Invalid safetensors header in checkpoint",
};
constexpr std::string_view kInvalidPromptMessages[] = {
    "Prompt exceeds the maximum length of 225 tokens",
    "Prompt is empty after removing unsupported syntax",
    "Unknown embedding referenced in prompt",
    "Malformed prompt weighting syntax",
};
constexpr std::string_view kNsfwFilteredMessages[] = {
    "Output image blocked by the safety checker",
    "Prompt rejected by the content policy",
};

struct ErrorProfile {
  std::string_view type;
  std::span<const std::string_view> messages;
};

// Indexed by ErrorKind.
constexpr std::array<ErrorProfile, kErrorKinds> kErrors = {{
    {"out_of_memory", kOutOfMemoryMessages},
    {"timeout", kTimeoutMessages},
    {"model_load_failed", kModelLoadFailedMessages},
    {"invalid_prompt", kInvalidPromptMessages},
    {"nsfw_filtered", kNsfwFilteredMessages},
}};

constexpr int64_t kGpuMemoryMb = 24576;    // every worker has a 24 GiB card
constexpr int64_t kTimeLimitMs = 180'000;  // jobs running longer fail with "timeout"

// How a checkpoint's share of the traffic moves over the window.
enum class Trend : uint8_t {
  kSteady,
  kRising,     // a new release: none before kReleaseProgress, then growing to twice its share
  kDeclining,  // fading out: from twice its share at the start to none at the end
};
constexpr double kReleaseProgress = 0.2;  // of the window, when the rising checkpoint appears

struct ModelProfile {
  std::string_view name;  // a checkpoint of model_catalog.h
  double popularity;      // relative share of the traffic at mid-window
  Trend trend;
  double median_generation_s;  // one image at native size and default steps
  int default_steps;
  double default_cfg;
  std::string_view sampler;
  int64_t base_memory_mb;
  int64_t memory_per_megapixel_mb;  // per image of the batch
  double failure_rate;              // background rate, before memory pressure and incidents
  std::array<double, kErrorKinds> error_mix;  // by ErrorKind
  double usd_per_gpu_second;
};

// One row per model, columns in ModelProfile order.
// clang-format off
constexpr std::array<ModelProfile, 8> kModels = {{
    {"illustriousXL_v01", 0.24, Trend::kSteady,    13.0, 28, 6.0, "euler_a",         7400,  1400, 0.035, {0.25, 0.15, 0.10, 0.25, 0.25}, 0.00032},
    {"sdxl_base_1.0",     0.18, Trend::kSteady,    10.0, 30, 7.0, "dpmpp_2m_karras", 7000,  1300, 0.025, {0.30, 0.15, 0.15, 0.30, 0.10}, 0.00032},
    {"flux1_dev",         0.16, Trend::kSteady,    36.0, 28, 3.5, "euler",           12000, 2400, 0.06,  {0.35, 0.35, 0.15, 0.10, 0.05}, 0.00068},
    {"sd15_pruned",       0.12, Trend::kSteady,    2.8,  25, 7.5, "dpmpp_2m",        3200,  1100, 0.01,  {0.20, 0.10, 0.10, 0.40, 0.20}, 0.00014},
    {"juggernautXL_v9",   0.18, Trend::kSteady,    15.0, 35, 4.5, "dpmpp_sde",       7600,  1400, 0.045, {0.30, 0.20, 0.10, 0.20, 0.20}, 0.00032},
    {"ponyDiffusionV6",   0.12, Trend::kSteady,    17.0, 25, 7.0, "euler_a",         7500,  1400, 0.13,  {0.10, 0.10, 0.05, 0.20, 0.55}, 0.00032},
    {"realvisXL_v5",      0.14, Trend::kRising,    12.0, 30, 5.0, "dpmpp_2m_karras", 7300,  1350, 0.03,  {0.30, 0.15, 0.10, 0.30, 0.15}, 0.00032},
    {"dreamshaper_8",     0.14, Trend::kDeclining, 3.2,  25, 7.0, "dpmpp_sde",       3300,  1100, 0.02,  {0.20, 0.10, 0.10, 0.40, 0.20}, 0.00014},
}};
// clang-format on

// Each checkpoint's family, from the catalogue (a name missing there does not compile).
constexpr std::array<ModelFamily, kModels.size()> kModelFamilies = []() consteval {
  std::array<ModelFamily, kModels.size()> families{};
  for (size_t i = 0; i < kModels.size(); ++i) families[i] = checkpoint_family(kModels[i].name);
  return families;
}();

// The share of each checkpoint at `progress` (0 at the window's start, 1 at its end).
std::array<double, kModels.size()> model_weights_at(double progress) {
  std::array<double, kModels.size()> weights{};
  for (size_t i = 0; i < kModels.size(); ++i) {
    double factor = 1;
    switch (kModels[i].trend) {
      case Trend::kSteady:
        break;
      case Trend::kRising:
        factor = 2 * std::clamp((progress - kReleaseProgress) / (1 - kReleaseProgress), 0.0, 1.0);
        break;
      case Trend::kDeclining:
        factor = 2 * std::clamp(1 - progress, 0.0, 1.0);
        break;
    }
    weights[i] = kModels[i].popularity * factor;
  }
  return weights;
}

// Users' favourites are among the steady checkpoints: a favourite would keep a
// declining model alive, or use a rising one before its release.
constexpr std::array<double, kModels.size()> kFavouriteWeights = [] {
  std::array<double, kModels.size()> weights{};
  for (size_t i = 0; i < kModels.size(); ++i) {
    weights[i] = kModels[i].trend == Trend::kSteady ? kModels[i].popularity : 0;
  }
  return weights;
}();

// How often generations of each family (indexed by ModelFamily) name add-ons.
struct AddOnRates {
  double lora;        // one or more LoRAs
  double several;     // of those, two or three
  double vae;         // a VAE other than the checkpoint's own
  double controlnet;  // a ControlNet
};
constexpr std::array<AddOnRates, 3> kAddOnRates = {{
    {0.40, 0.30, 0.20, 0.05},  // SDXL
    {0.45, 0.30, 0.40, 0.06},  // SD 1.5
    {0.25, 0.00, 0.00, 0.00},  // Flux
}};
constexpr double kCfgWithFixedSteps = 1.5;    // distillation LoRAs want a low cfg
constexpr double kSlowdownPerLora = 0.04;     // each LoRA's share of the sampling time
constexpr double kControlnetSlowdown = 1.25;  // a ControlNet runs beside the UNet
// Generations naming the damaged model fail this often, besides their usual rate.
constexpr double kDamagedModelFailureRate = 0.35;
constexpr std::string_view kDamagedModelMessage =
    "LoRA failed to load: safetensors header is truncated";

struct Dimensions {
  int width;
  int height;
  double weight;
};

constexpr std::array<Dimensions, 7> kXlDimensions = {{
    {832, 1216, 0.34},
    {1024, 1024, 0.24},
    {1216, 832, 0.14},
    {896, 1152, 0.12},
    {1344, 768, 0.08},
    {768, 1344, 0.05},
    {1536, 1536, 0.03},
}};
constexpr std::array<Dimensions, 4> kSd15Dimensions = {{
    {512, 768, 0.40},
    {512, 512, 0.30},
    {768, 512, 0.25},
    {1024, 1536, 0.05},
}};

constexpr std::array<std::string_view, 3> kGenerationTypes = {"standard", "batch", "priority"};
constexpr std::array<double, 3> kGenerationTypeWeights = {0.82, 0.10, 0.08};
constexpr size_t kBatchType = 1;
constexpr size_t kPriorityType = 2;

constexpr std::array<std::string_view, 6> kStyles = {
    "anime", "photorealistic", "illustration", "concept_art", "fantasy", "pixel_art"};
constexpr std::array<double, 6> kStyleWeights = {0.30, 0.25, 0.18, 0.12, 0.10, 0.05};
constexpr std::array<std::string_view, 3> kClients = {"web", "api", "discord"};
constexpr std::array<double, 3> kClientWeights = {0.70, 0.20, 0.10};

constexpr double kUserZipfExponent = 1.05;
constexpr int kDemoUserRank = 4;  // busy, but not the one bot-like user that dwarfs the rest
constexpr double kLateJoinerShare = 0.3;      // users whose first day falls inside the window
constexpr double kFavouriteModelShare = 0.6;  // users who mostly stick to one model
constexpr double kFavouriteModelLoyalty = 0.75;
constexpr double kFavouriteStyleLoyalty = 0.6;

constexpr double kTargetPeakUtilization = 0.8;  // sizes the worker pool
constexpr double kRunningCancelRate = 0.015;    // users who cancel a running job
constexpr double kQueuePatienceMedianS = 120;   // users who give up waiting
constexpr double kIncidentsPerDay = 0.15;       // a model misbehaving for an hour or three

constexpr double kUsdPerPromptToken = 0.0000002;  // the prompt-enhancer LLM
constexpr double kUsdPerStoredImage = 0.00004;

struct DemoUser {
  std::string id;
  int64_t first_active_us;
  int favourite_model;  // -1: none
  size_t favourite_style;
  size_t client;
};

// The demo's users, the first one kDemoUserId, with their cumulative Zipf
// weights (a few users make most requests).
std::vector<DemoUser> make_demo_users(const DemoOptions& options, int64_t begin_us,
                                      std::vector<double>* cumulative_weight) {
  DemoRng rng(options.seed, RngStream::kUsers);
  const int count = std::max(options.users, 1);
  std::vector<DemoUser> users;
  users.reserve(static_cast<size_t>(count));
  double cumulative = 0;
  const int64_t window_us = options.end_us - begin_us;
  for (int i = 0; i < count; ++i) {
    DemoUser user;
    user.id = i == 0 ? std::string(kDemoUserId) : rng.uuid();
    const bool late = i > 0 && rng.chance(kLateJoinerShare);
    user.first_active_us =
        late ? begin_us + static_cast<int64_t>(rng.uniform() * static_cast<double>(window_us))
             : begin_us;
    user.favourite_model =
        rng.chance(kFavouriteModelShare) ? static_cast<int>(rng.pick(kFavouriteWeights)) : -1;
    user.favourite_style = rng.pick(kStyleWeights);
    user.client = rng.pick(kClientWeights);
    users.push_back(std::move(user));
    // Users 1..kDemoUserRank move up one rank to make room for the demo user.
    const int rank =
        i == 0 ? std::min(kDemoUserRank, count - 1) : (i <= kDemoUserRank ? i - 1 : i);
    cumulative += std::pow(rank + 1.0, -kUserZipfExponent);
    cumulative_weight->push_back(cumulative);
  }
  return users;
}

struct Incident {
  int64_t begin_us;
  int64_t end_us;
  size_t model;
  ErrorKind kind;
  double failure_rate;
};

// Everything decided about one generation job, shared by its events.
struct Job {
  int64_t request_us = 0;
  std::string generation_id;
  const DemoUser* user = nullptr;
  size_t type = 0;
  size_t model = 0;
  int width = 0;
  int height = 0;
  int batch_size = 1;
  int prompt_tokens = 0;
  std::string image_dimensions_json;
  std::string attributes_json;
  std::vector<const ModelFile*> loras;
  const ModelFile* vae = nullptr;
  const ModelFile* controlnet = nullptr;
  int fixed_steps = 0;  // set by a distillation LoRA
  bool uses_damaged_model = false;
  std::string params_json;  // on the request and the completion
};

// Builds a compact JSON object. Numbers go through std::to_chars: no locale, and
// several times faster than printf, which dominated the generator's run time.
class CompactJson {
 public:
  CompactJson& field(std::string_view key, int64_t value) {
    open(key);
    append(value);
    return *this;
  }
  CompactJson& field(std::string_view key, double value, int decimals) {
    open(key);
    append(value, decimals);
    return *this;
  }
  // REQUIRES: `value` needs no escaping.
  CompactJson& field(std::string_view key, std::string_view value) {
    open(key);
    append_string(value);
    return *this;
  }
  // The ids of `files`, as an array. REQUIRES: they need no escaping.
  CompactJson& field(std::string_view key, std::span<const ModelFile* const> files) {
    open(key);
    text_ += '[';
    for (size_t i = 0; i < files.size(); ++i) {
      if (i > 0) text_ += ',';
      append_string(files[i]->id);
    }
    text_ += ']';
    return *this;
  }
  // "<width>x<height>" as a string.
  CompactJson& resolution(std::string_view key, int width, int height) {
    open(key);
    text_ += '"';
    append(width);
    text_ += 'x';
    append(height);
    text_ += '"';
    return *this;
  }
  // The finished object; leaves the builder empty.
  std::string finish() {
    text_ += '}';
    return std::move(text_);
  }

 private:
  void open(std::string_view key) {
    text_ += text_.empty() ? '{' : ',';
    text_ += '"';
    text_ += key;
    text_ += "\":";
  }
  void append_string(std::string_view value) {
    text_ += '"';
    text_ += value;
    text_ += '"';
  }
  template <typename... Format>
  void append(auto value, Format... format) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, format...);
    text_.append(buffer, result.ptr);
  }
  void append(double value, int decimals) { append(value, std::chars_format::fixed, decimals); }

  std::string text_;
};

class TrafficSimulator {
 public:
  using Sink = std::function<void(std::vector<GenerationEvent>&&)>;

  TrafficSimulator(const DemoOptions& options, size_t batch_size, const Sink& sink)
      : options_(options),
        batches_(batch_size, sink),
        begin_us_(options.end_us - static_cast<int64_t>(options.days) * kMicrosPerDay),
        traffic_rng_(options.seed, RngStream::kTraffic),
        id_rng_(options.seed, RngStream::kIds) {
    users_ = make_demo_users(options_, begin_us_, &user_cumulative_weight_);
    make_incidents();
    for (const ModelFile& file : kModelFiles) {
      if (file.weight <= 0) continue;
      AddOns& add_ons = add_ons_[static_cast<size_t>(file.family)];
      switch (file.role) {
        case ModelRole::kCheckpoint:
          break;
        case ModelRole::kLora:
          add_ons.loras.push_back(&file);
          add_ons.lora_weights.push_back(file.weight);
          break;
        case ModelRole::kVae:
          add_ons.vae = &file;
          break;
        case ModelRole::kControlnet:
          add_ons.controlnets.push_back(&file);
          add_ons.controlnet_weights.push_back(file.weight);
          break;
      }
    }
    for (int workers = worker_count(); workers > 0; --workers) worker_free_us_.push(begin_us_);
  }

  void run() {
    if (options_.days <= 0 || options_.mean_generations_per_hour <= 0) return;
    for (int64_t hour = floor_div(begin_us_, kMicrosPerHour) * kMicrosPerHour;
         hour < options_.end_us; hour += kMicrosPerHour) {
      model_weights_ = model_weights_at(progress(hour));
      const double per_hour = hourly_rate(hour);
      const double mean_gap_s = 3600.0 / per_hour;
      for (double offset_s = traffic_rng_.exponential(mean_gap_s); offset_s < 3600.0;
           offset_s += traffic_rng_.exponential(mean_gap_s)) {
        const int64_t request_us = hour + static_cast<int64_t>(offset_s * kMicrosPerSecond);
        if (request_us < begin_us_) continue;
        if (request_us > options_.end_us) break;
        simulate_generation(request_us);
      }
      // Later hours only add events at or after their own start.
      release_before(hour + kMicrosPerHour);
    }
    release_before(std::numeric_limits<int64_t>::max());
    batches_.flush();
  }

 private:
  // The add-ons of one family that generations name, with their weights.
  struct AddOns {
    std::vector<const ModelFile*> loras;
    std::vector<double> lora_weights;
    const ModelFile* vae = nullptr;
    std::vector<const ModelFile*> controlnets;
    std::vector<double> controlnet_weights;
  };

  struct PendingEvent {
    int64_t timestamp_us;
    uint64_t sequence;  // ties keep creation order
    size_t slot;
    bool operator>(const PendingEvent& other) const {
      return std::tie(timestamp_us, sequence) > std::tie(other.timestamp_us, other.sequence);
    }
  };

  void make_incidents() {
    DemoRng rng(options_.seed, RngStream::kIncidents);
    for (int day = 0; day < options_.days; ++day) {
      if (!rng.chance(kIncidentsPerDay)) continue;
      Incident incident;
      incident.begin_us = begin_us_ + day * kMicrosPerDay +
                          static_cast<int64_t>(rng.uniform() * static_cast<double>(kMicrosPerDay));
      incident.end_us = incident.begin_us + rng.uniform_int(1, 3) * kMicrosPerHour;
      incident.model =
          static_cast<size_t>(rng.uniform_int(0, static_cast<int>(kModels.size()) - 1));
      constexpr std::array<ErrorKind, 3> kIncidentKinds = {
          ErrorKind::kModelLoadFailed, ErrorKind::kTimeout, ErrorKind::kOutOfMemory};
      incident.kind = kIncidentKinds[static_cast<size_t>(rng.uniform_int(0, 2))];
      incident.failure_rate = rng.uniform(0.3, 0.6);
      incidents_.push_back(incident);
    }
  }

  // Enough workers that the busiest hours run at about kTargetPeakUtilization.
  int worker_count() const {
    double busy_s = 0;
    double popularity = 0;
    for (const ModelProfile& model : kModels) {
      busy_s += model.popularity * model.median_generation_s;
      popularity += model.popularity;
    }
    busy_s *= 1.25 / popularity;  // batches, larger images and the lognormal tail
    const double peak_per_hour = options_.mean_generations_per_hour * kPeakHourLoad /
                                 kHourLoadMean * kWeekdayLoad * (1 + kGrowthOverWindow / 2);
    return std::max(
        1, static_cast<int>(std::ceil(peak_per_hour * busy_s / 3600.0 / kTargetPeakUtilization)));
  }

  double hourly_rate(int64_t hour_us) {
    const int64_t day = floor_div(hour_us, kMicrosPerDay);
    if (day != noise_day_) {
      noise_day_ = day;
      day_noise_ = traffic_rng_.noise(kDayNoiseSigma);
    }
    const int weekday = utc_weekday_of(hour_us);
    const double weekly = (weekday == 0 || weekday == 6) ? kWeekendLoad : kWeekdayLoad;
    const double trend = 1 + kGrowthOverWindow * (progress(hour_us) - 0.5);
    return options_.mean_generations_per_hour *
           kHourLoad[static_cast<size_t>(utc_hour_of(hour_us))] / kHourLoadMean * weekly * trend *
           day_noise_ * traffic_rng_.noise(kHourNoiseSigma);
  }

  // How far `at_us` is into the window: 0 at its start, 1 at its end.
  double progress(int64_t at_us) const {
    return static_cast<double>(at_us - begin_us_) /
           static_cast<double>(options_.end_us - begin_us_);
  }

  const DemoUser& pick_user(int64_t at_us) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const double x = traffic_rng_.uniform() * user_cumulative_weight_.back();
      const auto it =
          std::upper_bound(user_cumulative_weight_.begin(), user_cumulative_weight_.end(), x);
      const DemoUser& user = users_[std::min(
          static_cast<size_t>(it - user_cumulative_weight_.begin()), users_.size() - 1)];
      if (user.first_active_us <= at_us) return user;
    }
    return users_.front();
  }

  Job describe_job(int64_t request_us) {
    DemoRng& rng = traffic_rng_;
    Job job;
    job.request_us = request_us;
    job.generation_id = id_rng_.uuid();
    job.user = &pick_user(request_us);
    job.type = rng.pick(kGenerationTypeWeights);
    job.model = (job.user->favourite_model >= 0 && rng.chance(kFavouriteModelLoyalty))
                    ? static_cast<size_t>(job.user->favourite_model)
                    : rng.pick(model_weights_);
    job.batch_size = job.type == kBatchType ? rng.uniform_int(2, 4) : 1;
    const ModelFamily family = kModelFamilies[job.model];
    std::span<const Dimensions> sizes = family == ModelFamily::kSd15
                                            ? std::span<const Dimensions>(kSd15Dimensions)
                                            : std::span<const Dimensions>(kXlDimensions);
    static_assert(kXlDimensions.size() >= kSd15Dimensions.size());
    std::array<double, kXlDimensions.size()> size_weights{};
    for (size_t i = 0; i < sizes.size(); ++i) size_weights[i] = sizes[i].weight;
    const Dimensions& size = sizes[rng.pick(std::span(size_weights).first(sizes.size()))];
    job.width = size.width;
    job.height = size.height;
    job.prompt_tokens = std::clamp(static_cast<int>(rng.lognormal(48, 0.55)), 4, 225);
    job.image_dimensions_json =
        CompactJson().field("width", job.width).field("height", job.height).finish();
    const size_t style =
        rng.chance(kFavouriteStyleLoyalty) ? job.user->favourite_style : rng.pick(kStyleWeights);
    job.attributes_json = CompactJson()
                              .field("style", kStyles[style])
                              .field("client", kClients[job.user->client])
                              .finish();
    pick_add_ons(family, &job);
    return job;
  }

  // The LoRAs, VAE and ControlNet of `job`, all of its checkpoint's family.
  void pick_add_ons(ModelFamily family, Job* job) {
    DemoRng& rng = traffic_rng_;
    const AddOns& add_ons = add_ons_[static_cast<size_t>(family)];
    const AddOnRates& rates = kAddOnRates[static_cast<size_t>(family)];
    if (!add_ons.loras.empty() && rng.chance(rates.lora)) {
      const size_t count = std::min<size_t>(
          rng.chance(rates.several) ? static_cast<size_t>(rng.uniform_int(2, 3)) : 1,
          add_ons.loras.size());
      lora_weights_ = add_ons.lora_weights;
      for (size_t i = 0; i < count; ++i) {
        const size_t pick = rng.pick(lora_weights_);
        lora_weights_[pick] = 0;  // distinct
        const ModelFile* lora = add_ons.loras[pick];
        job->loras.push_back(lora);
        if (lora->fixed_steps > 0) job->fixed_steps = lora->fixed_steps;
        if (lora->id == kDamagedModelId) job->uses_damaged_model = true;
      }
    }
    if (add_ons.vae != nullptr && rng.chance(rates.vae)) job->vae = add_ons.vae;
    if (!add_ons.controlnets.empty() && rng.chance(rates.controlnet)) {
      job->controlnet = add_ons.controlnets[rng.pick(add_ons.controlnet_weights)];
    }
  }

  void simulate_generation(int64_t request_us) {
    DemoRng& rng = traffic_rng_;
    Job job = describe_job(request_us);
    const ModelProfile& model = kModels[job.model];

    constexpr std::array<double, 3> kStepChoices = {0.2, 0.6, 0.2};
    int steps = model.default_steps + std::array{-8, 0, 12}[rng.pick(kStepChoices)];
    double cfg = model.default_cfg + 0.5 * rng.uniform_int(-2, 2);
    if (job.fixed_steps > 0) {
      steps = job.fixed_steps;
      cfg = kCfgWithFixedSteps;
    }

    const double native_pixels =
        kModelFamilies[job.model] == ModelFamily::kSd15 ? 512.0 * 512.0 : 1024.0 * 1024.0;
    const double megapixels = job.width * job.height / 1e6;
    double generation_s = model.median_generation_s * (job.width * job.height / native_pixels) *
                          (1 + 0.8 * (job.batch_size - 1)) * steps / model.default_steps *
                          (1 + kSlowdownPerLora * static_cast<double>(job.loras.size())) *
                          (job.controlnet != nullptr ? kControlnetSlowdown : 1.0) *
                          rng.lognormal(1.0, 0.3);
    if (rng.chance(0.02)) generation_s *= rng.uniform(2, 4);  // a slow or throttled worker
    int64_t memory_needed_mb =
        model.base_memory_mb +
        static_cast<int64_t>(megapixels * job.batch_size *
                             static_cast<double>(model.memory_per_megapixel_mb));
    for (const ModelFile* lora : job.loras) memory_needed_mb += lora->vram_mb;
    if (job.vae != nullptr) memory_needed_mb += job.vae->vram_mb;
    if (job.controlnet != nullptr) memory_needed_mb += job.controlnet->vram_mb;

    CompactJson params;
    params.field("steps", steps)
        .field("cfg", cfg, 1)
        .field("sampler", model.sampler)
        .resolution("resolution", job.width, job.height);
    if (job.loras.size() == 1) {
      params.field("lora", job.loras.front()->id);
    } else if (!job.loras.empty()) {
      params.field("loras", job.loras);
    }
    if (job.vae != nullptr) params.field("vae", job.vae->id);
    if (job.controlnet != nullptr) params.field("controlnet", job.controlnet->id);
    job.params_json = params.finish();

    // Queueing: priority jobs have their own lane; the rest share the worker pool in FIFO order.
    int64_t queue_length = 0;
    int64_t wait_us = 0;
    const bool shared_queue = job.type != kPriorityType;
    if (shared_queue) {
      while (!waiting_starts_.empty() && waiting_starts_.front() <= request_us)
        waiting_starts_.pop_front();
      queue_length = static_cast<int64_t>(waiting_starts_.size());
      wait_us = std::max<int64_t>(worker_free_us_.top() - request_us, 0);
    }
    wait_us +=
        static_cast<int64_t>(rng.lognormal(shared_queue ? 0.15 : 0.25, 0.5) * kMicrosPerSecond);

    GenerationEvent request = make_event(GenerationEventType::kRequest, request_us, job);
    request.image_dimensions_json = job.image_dimensions_json;
    request.prompt_tokens = job.prompt_tokens;
    request.params_json = job.params_json;
    request.attributes_json = job.attributes_json;
    request.queue_length = queue_length;
    schedule(std::move(request));

    const double patience_s = rng.lognormal(kQueuePatienceMedianS, 0.8);
    if (static_cast<double>(wait_us) > patience_s * kMicrosPerSecond) {
      GenerationEvent cancellation =
          make_event(GenerationEventType::kCancellation,
                     request_us + static_cast<int64_t>(patience_s * kMicrosPerSecond), job);
      cancellation.attributes_json = job.attributes_json;
      schedule(std::move(cancellation));
      return;
    }

    const int64_t start_us = request_us + wait_us;
    GenerationEvent start = make_event(GenerationEventType::kStart, start_us, job);
    start.queue_wait_time_ms = wait_us / 1000;
    schedule(std::move(start));

    int64_t finished_us = 0;
    if (rng.chance(kRunningCancelRate)) {
      finished_us =
          start_us + static_cast<int64_t>(generation_s * rng.uniform(0.1, 0.9) * kMicrosPerSecond);
      GenerationEvent cancellation =
          make_event(GenerationEventType::kCancellation, finished_us, job);
      cancellation.attributes_json = job.attributes_json;
      schedule(std::move(cancellation));
    } else {
      finished_us = complete(job, start_us, wait_us, generation_s, memory_needed_mb);
    }

    if (shared_queue) {
      worker_free_us_.pop();
      worker_free_us_.push(finished_us);
      waiting_starts_.push_back(start_us);
    }
  }

  // Schedules the completion of a job that started at `start_us`; returns when the worker is free.
  int64_t complete(const Job& job, int64_t start_us, int64_t wait_us, double generation_s,
                   int64_t memory_needed_mb) {
    DemoRng& rng = traffic_rng_;
    const ModelProfile& model = kModels[job.model];

    std::array<double, kErrorKinds> failure_rates{};
    for (size_t kind = 0; kind < kErrorKinds; ++kind) {
      failure_rates[kind] = model.failure_rate * model.error_mix[kind];
    }
    // Large images and batches run out of memory more often.
    const double pressure = std::clamp(
        (static_cast<double>(memory_needed_mb) - 0.4 * kGpuMemoryMb) / (0.6 * kGpuMemoryMb), 0.0,
        1.0);
    failure_rates[static_cast<size_t>(ErrorKind::kOutOfMemory)] += 0.25 * pressure * pressure;
    for (const Incident& incident : incidents_) {
      if (incident.model == job.model && incident.begin_us <= job.request_us &&
          job.request_us < incident.end_us) {
        failure_rates[static_cast<size_t>(incident.kind)] += incident.failure_rate;
      }
    }
    double total_failure_rate = 0;
    for (double rate : failure_rates) total_failure_rate += rate;

    std::optional<ErrorKind> error;
    std::string_view message;
    if (job.uses_damaged_model && rng.chance(kDamagedModelFailureRate)) {
      error = ErrorKind::kModelLoadFailed;
      message = kDamagedModelMessage;
    } else if (rng.chance(total_failure_rate)) {
      error = static_cast<ErrorKind>(rng.pick(failure_rates));
      const auto messages = kErrors[static_cast<size_t>(*error)].messages;
      message =
          messages[static_cast<size_t>(rng.uniform_int(0, static_cast<int>(messages.size()) - 1))];
    }
    int64_t generation_ms = static_cast<int64_t>(generation_s * 1000);
    // Jobs that would not fail before the limit hit it; the safety checker runs only at the end.
    if (generation_ms > kTimeLimitMs && (!error || *error == ErrorKind::kNsfwFiltered)) {
      error = ErrorKind::kTimeout;
      message = kErrors[static_cast<size_t>(ErrorKind::kTimeout)].messages.front();
    }

    int64_t memory_mb = std::min(
        kGpuMemoryMb,
        static_cast<int64_t>(static_cast<double>(memory_needed_mb) * rng.uniform(0.93, 1.04)));
    if (error) {
      switch (*error) {
        case ErrorKind::kOutOfMemory:
          generation_ms =
              static_cast<int64_t>(static_cast<double>(generation_ms) * rng.uniform(0.05, 0.95));
          memory_mb = kGpuMemoryMb;
          break;
        case ErrorKind::kTimeout:
          generation_ms = kTimeLimitMs + rng.uniform_int(0, 500);
          break;
        case ErrorKind::kModelLoadFailed:
          generation_ms = static_cast<int64_t>(rng.lognormal(6000, 0.6));
          memory_mb = static_cast<int64_t>(static_cast<double>(model.base_memory_mb) *
                                           rng.uniform(0.1, 0.6));
          break;
        case ErrorKind::kInvalidPrompt:
          generation_ms = static_cast<int64_t>(rng.lognormal(150, 0.5));
          memory_mb = model.base_memory_mb;
          break;
        case ErrorKind::kNsfwFiltered:  // the safety checker runs on the finished image
          break;
      }
    }
    const int64_t overhead_us = static_cast<int64_t>(rng.lognormal(0.08, 0.5) * kMicrosPerSecond);
    const int64_t completed_us = start_us + generation_ms * 1000 + overhead_us;

    GenerationEvent completion = make_event(GenerationEventType::kCompletion, completed_us, job);
    completion.success = !error.has_value();
    if (error) {
      completion.error_type = std::string(kErrors[static_cast<size_t>(*error)].type);
      completion.error_message = std::string(message);
    }
    completion.duration_ms = (completed_us - job.request_us) / 1000;
    completion.queue_wait_time_ms = wait_us / 1000;
    completion.generation_time_ms = generation_ms;
    completion.image_dimensions_json = job.image_dimensions_json;
    completion.prompt_tokens = job.prompt_tokens;
    completion.params_json = job.params_json;
    completion.gpu_memory_mb = memory_mb;

    const bool prompt_rejected = error == ErrorKind::kInvalidPrompt;
    const int output_tokens =
        prompt_rejected ? 0 : static_cast<int>(job.prompt_tokens * rng.uniform(1.2, 2.5));
    // Whole micro-dollars, so that the printed parts add up to the printed total.
    const int64_t compute_micro_usd =
        std::llround(static_cast<double>(generation_ms) * 1000 * model.usd_per_gpu_second);
    const int64_t prompt_micro_usd =
        std::llround((job.prompt_tokens + output_tokens) * kUsdPerPromptToken * 1e6);
    const int64_t storage_micro_usd =
        error ? 0 : std::llround(job.batch_size * kUsdPerStoredImage * 1e6);
    const auto usd = [](int64_t micro_usd) { return static_cast<double>(micro_usd) / 1e6; };
    completion.costs_json =
        CompactJson()
            .field("compute", usd(compute_micro_usd), 6)
            .field("prompt", usd(prompt_micro_usd), 6)
            .field("storage", usd(storage_micro_usd), 6)
            .field("total", usd(compute_micro_usd + prompt_micro_usd + storage_micro_usd), 6)
            .finish();
    completion.tokens_json =
        CompactJson().field("input", job.prompt_tokens).field("output", output_tokens).finish();
    completion.attributes_json = job.attributes_json;
    schedule(std::move(completion));
    return completed_us;
  }

  // The fields every event of a job carries.
  GenerationEvent make_event(GenerationEventType type, int64_t timestamp_us, const Job& job) {
    GenerationEvent event;
    event.event_type = type;
    event.generation_id = job.generation_id;
    event.user_id = job.user->id;
    event.timestamp_us = timestamp_us;
    event.generation_type = std::string(kGenerationTypes[job.type]);
    event.model_checkpoint = std::string(kModels[job.model].name);
    event.batch_size = job.batch_size;
    return event;
  }

  // Queues `event` for timestamp-ordered release; events after the window are
  // still in flight when the demo ends and are dropped.
  void schedule(GenerationEvent&& event) {
    if (event.timestamp_us > options_.end_us) return;
    event.event_id = id_rng_.uuid();
    size_t slot;
    if (free_slots_.empty()) {
      slot = slots_.size();
      slots_.push_back(std::move(event));
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
      slots_[slot] = std::move(event);
    }
    pending_.push({slots_[slot].timestamp_us, next_sequence_++, slot});
  }

  // Hands every pending event earlier than `limit_us` to the sink, in order.
  void release_before(int64_t limit_us) {
    while (!pending_.empty() && pending_.top().timestamp_us < limit_us) {
      const size_t slot = pending_.top().slot;
      pending_.pop();
      batches_.add(std::move(slots_[slot]));
      free_slots_.push_back(slot);
    }
  }

  const DemoOptions options_;
  DemoBatches<GenerationEvent> batches_;
  const int64_t begin_us_;
  DemoRng traffic_rng_;  // every decision about the traffic
  DemoRng id_rng_;       // generation and event ids

  std::vector<DemoUser> users_;
  std::vector<double> user_cumulative_weight_;  // Zipf: a few users make most requests
  std::vector<Incident> incidents_;

  std::array<AddOns, 3> add_ons_;                       // by ModelFamily
  std::vector<double> lora_weights_;                    // scratch of pick_add_ons
  std::array<double, kModels.size()> model_weights_{};  // this hour's share of each checkpoint

  int64_t noise_day_ = std::numeric_limits<int64_t>::min();
  double day_noise_ = 1;

  // When each worker of the shared pool is next free (earliest on top).
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> worker_free_us_;
  std::deque<int64_t> waiting_starts_;  // start times of queued jobs, non-decreasing

  std::vector<GenerationEvent> slots_;
  std::vector<size_t> free_slots_;
  std::priority_queue<PendingEvent, std::vector<PendingEvent>, std::greater<>> pending_;
  uint64_t next_sequence_ = 0;
};

}  // namespace

namespace demo_model {

DemoPopulation demo_population(const DemoOptions& options) {
  DemoPopulation population;
  const int64_t begin_us = options.end_us - static_cast<int64_t>(options.days) * kMicrosPerDay;
  for (DemoUser& user : make_demo_users(options, begin_us, &population.cumulative_weight)) {
    population.ids.push_back(std::move(user.id));
    population.first_active_us.push_back(user.first_active_us);
  }
  return population;
}

}  // namespace demo_model

void generate_demo_traffic(const DemoOptions& options, size_t batch_size,
                           const std::function<void(std::vector<GenerationEvent>&&)>& sink) {
  TrafficSimulator(options, batch_size, sink).run();
}

}  // namespace genalytics
