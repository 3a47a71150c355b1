// The backend of the simulated generation service, as its reverse proxy sees
// it: one route hit after another, in timestamp order.
#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "demo/demo_model.h"
#include "demo/traffic_generator.h"
#include "event/time.h"

namespace genalytics {
namespace {

using demo_model::DemoPopulation;
using demo_model::DemoRng;
using demo_model::RngStream;

// A web or app page view calls several routes; the job submissions match the
// generation traffic (one POST per generation, give or take rejected ones).
// Enough that the busiest groups (the feed's default listing, item pages) pass
// System 1's default 10 requests per hour over a 7-day window even when the
// demo holds a single quiet weekend day.
constexpr double kRouteHitsPerGeneration = 8;

// What a caller asks for; each kind has its own route, method and costs.
enum class RouteKind : uint8_t {
  kContentFeed,      // GET /api/v1/content/unified?page=&page_size=&sort=[&tag=]
  kContentItem,      // GET /api/v1/content/{id}
  kContentVariants,  // GET /api/v1/content/{id}/variants
  kContentLike,      // POST /api/v1/content/{id}/like
  kContentDelete,    // DELETE /api/v1/content/{id}
  kTagList,          // GET /api/v1/tags?sort=popular
  kTagContent,       // GET /api/v1/tags/{tag}/content?page=
  kJobSubmit,        // POST /api/v1/generation/jobs
  kJobStatus,        // GET /api/v1/generation/jobs/{uuid}
  kUserGenerations,  // GET /api/v1/users/{uuid}/generations?page=&page_size=
  kCurrentUser,      // GET /api/v1/users/me
  kModelList,        // GET /api/v1/models
  kAuthLogin,        // POST /api/v1/auth/login
  kAuthRefresh,      // POST /api/v1/auth/refresh
  kHealth,           // GET /health (the load balancer)
};

struct RouteProfile {
  RouteKind kind;
  double share;              // of all hits
  double median_ms;          // latency of a miss at average load
  double sigma;              // lognormal spread
  double error_rate;         // 5xx
  double client_error_rate;  // 4xx other than the kind's own
  int db_queries;            // typical queries per request
  int64_t response_bytes;    // typical body
  bool cdn_cached;           // a CDN/edge cache answers some of it ("hit")
};

// clang-format off
constexpr std::array<RouteProfile, 15> kRoutes = {{
    {RouteKind::kContentFeed,      0.260,  95, 0.55, 0.004, 0.004, 4, 18000, true},
    {RouteKind::kContentItem,      0.170,  60, 0.60, 0.003, 0.020, 2,  3800, true},
    {RouteKind::kContentVariants,  0.040,  70, 0.50, 0.003, 0.010, 3,  6200, true},
    {RouteKind::kContentLike,      0.030,  28, 0.40, 0.002, 0.010, 2,    90, false},
    {RouteKind::kContentDelete,    0.005,  60, 0.40, 0.004, 0.050, 3,    60, false},
    {RouteKind::kTagList,          0.035, 140, 0.45, 0.003, 0.000, 1,  4200, true},
    {RouteKind::kTagContent,       0.045, 110, 0.50, 0.004, 0.005, 4, 16000, true},
    {RouteKind::kJobSubmit,        0.125, 180, 0.50, 0.008, 0.050, 4,   420, false},
    {RouteKind::kJobStatus,        0.130,  12, 0.45, 0.002, 0.005, 1,   380, false},
    {RouteKind::kUserGenerations,  0.050,  75, 0.60, 0.003, 0.005, 3, 14000, false},
    {RouteKind::kCurrentUser,      0.050,  15, 0.40, 0.001, 0.010, 1,   650, false},
    {RouteKind::kModelList,        0.030,  35, 0.40, 0.001, 0.000, 1,  2400, true},
    {RouteKind::kAuthLogin,        0.010, 230, 0.25, 0.002, 0.080, 2,   520, false},
    {RouteKind::kAuthRefresh,      0.010,  25, 0.35, 0.002, 0.020, 1,   480, false},
    {RouteKind::kHealth,           0.020,   2, 0.50, 0.000, 0.000, 0,    15, false},
}};
// clang-format on

constexpr std::array<double, kRoutes.size()> kRouteShares = [] {
  std::array<double, kRoutes.size()> shares{};
  for (size_t i = 0; i < kRoutes.size(); ++i) shares[i] = kRoutes[i].share;
  return shares;
}();

constexpr std::array<std::string_view, 3> kFeedSorts = {"created_at", "popular", "trending"};
constexpr std::array<double, 3> kFeedSortWeights = {0.75, 0.18, 0.07};
constexpr std::array<int, 3> kFeedPageSizes = {20, 10, 50};  // 20: the web client's default
constexpr std::array<double, 3> kFeedPageSizeWeights = {0.80, 0.12, 0.08};
constexpr double kFeedTagFilterShare = 0.10;
constexpr double kFeedWithoutPageShare = 0.3;  // the first page, asked for without `page`
constexpr double kNextPageChance = 0.38;       // page k + 1 after page k

constexpr std::array<std::string_view, 8> kTags = {"anime",     "photorealistic", "landscape",
                                                   "portrait",  "fantasy",        "cyberpunk",
                                                   "pixel-art", "sci-fi"};
constexpr std::array<double, 8> kTagWeights = {0.28, 0.20, 0.12, 0.12, 0.10, 0.08, 0.05, 0.05};

// Content ids count up; newer items are seen more (log-uniform rank).
constexpr int64_t kNewestContentId = 48'213;
constexpr int64_t kContentItems = 40'000;
constexpr size_t kPolledJobs = 48;    // recent submissions still being polled
constexpr double kCdnHitRate = 0.35;  // of cacheable GETs that succeed
constexpr double kNotModifiedRate = 0.03;
constexpr double kAnonymousShare = 0.12;  // GETs without a signed-in user

class RouteTrafficSimulator {
 public:
  using Sink = std::function<void(std::vector<RouteEvent>&&)>;

  RouteTrafficSimulator(const DemoOptions& options, size_t batch_size, const Sink& sink)
      : options_(options),
        batches_(batch_size, sink),
        begin_us_(options.end_us - static_cast<int64_t>(options.days) * kMicrosPerDay),
        population_(demo_model::demo_population(options)),
        rng_(options.seed, RngStream::kRouteTraffic),
        id_rng_(options.seed, RngStream::kRouteIds) {}

  void run() {
    if (options_.days <= 0 || options_.mean_generations_per_hour <= 0) return;
    for (int64_t hour = demo_model::floor_div(begin_us_, kMicrosPerHour) * kMicrosPerHour;
         hour < options_.end_us; hour += kMicrosPerHour) {
      const double load = load_factor(hour);
      const double mean_gap_s =
          3600.0 / (options_.mean_generations_per_hour * kRouteHitsPerGeneration * load);
      for (double offset_s = rng_.exponential(mean_gap_s); offset_s < 3600.0;
           offset_s += rng_.exponential(mean_gap_s)) {
        const int64_t at_us = hour + static_cast<int64_t>(offset_s * kMicrosPerSecond);
        if (at_us < begin_us_) continue;
        if (at_us > options_.end_us) break;
        batches_.add(simulate_hit(at_us, load));
      }
    }
    batches_.flush();
  }

 private:
  // The generation traffic's shape: daily curve, weekends, growth, noise.
  double load_factor(int64_t hour_us) {
    using namespace demo_model;
    const int64_t day = floor_div(hour_us, kMicrosPerDay);
    if (day != noise_day_) {
      noise_day_ = day;
      day_noise_ = rng_.noise(kDayNoiseSigma);
    }
    const int weekday = utc_weekday_of(hour_us);
    const double weekly = (weekday == 0 || weekday == 6) ? kWeekendLoad : kWeekdayLoad;
    const double progress =
        static_cast<double>(hour_us - begin_us_) / static_cast<double>(options_.end_us - begin_us_);
    const double trend = 1 + kGrowthOverWindow * (progress - 0.5);
    return kHourLoad[static_cast<size_t>(utc_hour_of(hour_us))] / kHourLoadMean * weekly * trend *
           day_noise_ * rng_.noise(kHourNoiseSigma);
  }

  const std::string* pick_user(int64_t at_us) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const double x = rng_.uniform() * population_.cumulative_weight.back();
      const auto it = std::upper_bound(population_.cumulative_weight.begin(),
                                       population_.cumulative_weight.end(), x);
      const size_t index = std::min(static_cast<size_t>(it - population_.cumulative_weight.begin()),
                                    population_.ids.size() - 1);
      if (population_.first_active_us[index] <= at_us) return &population_.ids[index];
    }
    return &population_.ids.front();
  }

  int64_t content_id() {
    const double rank = std::exp(rng_.uniform() * std::log(static_cast<double>(kContentItems)));
    return kNewestContentId - static_cast<int64_t>(rank) + 1;
  }

  // 1 mostly; each further page less likely than the one before.
  int page() {
    int page = 1;
    while (page < 20 && rng_.chance(kNextPageChance)) ++page;
    return page;
  }

  // Builds the request target and fills what depends on it.
  std::string target(const RouteProfile& profile, RouteEvent* event, const std::string* user) {
    switch (profile.kind) {
      case RouteKind::kContentFeed: {
        const int p = page();
        std::string query;
        if (p > 1 || !rng_.chance(kFeedWithoutPageShare))
          query += "page=" + std::to_string(p) + "&";
        query += "page_size=" + std::to_string(kFeedPageSizes[rng_.pick(kFeedPageSizeWeights)]);
        query += "&sort=";
        query += kFeedSorts[rng_.pick(kFeedSortWeights)];
        if (rng_.chance(kFeedTagFilterShare)) {
          query += "&tag=";
          query += kTags[rng_.pick(kTagWeights)];
        }
        latency_factor_ = 1 + 0.12 * (p - 1);  // deeper pages scan further
        return "/api/v1/content/unified?" + query;
      }
      case RouteKind::kContentItem:
        return "/api/v1/content/" + std::to_string(content_id());
      case RouteKind::kContentVariants:
        return "/api/v1/content/" + std::to_string(content_id()) + "/variants";
      case RouteKind::kContentLike:
        event->request_size_bytes = 2;
        return "/api/v1/content/" + std::to_string(content_id()) + "/like";
      case RouteKind::kContentDelete:
        return "/api/v1/content/" + std::to_string(content_id());
      case RouteKind::kTagList:
        return "/api/v1/tags?sort=popular";
      case RouteKind::kTagContent: {
        std::string path = "/api/v1/tags/";
        path += kTags[rng_.pick(kTagWeights)];
        path += "/content?page=" + std::to_string(page());
        return path;
      }
      case RouteKind::kJobSubmit:
        event->request_size_bytes = rng_.uniform_int(600, 2400);  // prompt and parameters
        recent_jobs_.push_back(id_rng_.uuid());
        if (recent_jobs_.size() > kPolledJobs) recent_jobs_.pop_front();
        return "/api/v1/generation/jobs";
      case RouteKind::kJobStatus: {
        if (recent_jobs_.empty()) recent_jobs_.push_back(id_rng_.uuid());
        const size_t back =
            static_cast<size_t>(rng_.uniform_int(0, static_cast<int>(recent_jobs_.size()) - 1));
        return "/api/v1/generation/jobs/" + recent_jobs_[recent_jobs_.size() - 1 - back];
      }
      case RouteKind::kUserGenerations: {
        const int p = page();
        // Mostly their own history, sometimes someone else's profile.
        const std::string& whose =
            rng_.chance(0.7) && user ? *user : *pick_user(event->timestamp_us);
        return "/api/v1/users/" + whose + "/generations?page=" + std::to_string(p) +
               "&page_size=20";
      }
      case RouteKind::kCurrentUser:
        return "/api/v1/users/me";
      case RouteKind::kModelList:
        return "/api/v1/models";
      case RouteKind::kAuthLogin:
        event->request_size_bytes = rng_.uniform_int(60, 120);
        return "/api/v1/auth/login";
      case RouteKind::kAuthRefresh:
        event->request_size_bytes = rng_.uniform_int(300, 400);
        return "/api/v1/auth/refresh";
      case RouteKind::kHealth:
        return "/health";
    }
    return "/";
  }

  static std::string_view method_of(RouteKind kind) {
    switch (kind) {
      case RouteKind::kContentLike:
      case RouteKind::kJobSubmit:
      case RouteKind::kAuthLogin:
      case RouteKind::kAuthRefresh:
        return "POST";
      case RouteKind::kContentDelete:
        return "DELETE";
      default:
        return "GET";
    }
  }

  // The 4xx a kind answers when the caller got it wrong.
  static std::pair<int, std::string_view> client_error_of(RouteKind kind) {
    switch (kind) {
      case RouteKind::kContentItem:
      case RouteKind::kContentVariants:
      case RouteKind::kContentLike:
      case RouteKind::kJobStatus:
        return {404, "not_found"};
      case RouteKind::kContentDelete:
        return {403, "forbidden"};
      case RouteKind::kJobSubmit:
        return {429, "rate_limited"};
      case RouteKind::kAuthLogin:
      case RouteKind::kAuthRefresh:
      case RouteKind::kCurrentUser:
        return {401, "unauthorized"};
      default:
        return {400, "validation_error"};
    }
  }

  RouteEvent simulate_hit(int64_t at_us, double load) {
    const RouteProfile& profile = kRoutes[rng_.pick(kRouteShares)];
    RouteEvent event;
    event.event_id = id_rng_.uuid();
    event.timestamp_us = at_us;
    event.method = method_of(profile.kind);
    const bool signed_in = profile.kind != RouteKind::kHealth &&
                           profile.kind != RouteKind::kAuthLogin &&
                           (event.method != "GET" || !rng_.chance(kAnonymousShare));
    const std::string* user = signed_in ? pick_user(at_us) : nullptr;
    if (user != nullptr) event.user_id = *user;
    latency_factor_ = 1;
    event.route_full = target(profile, &event, user);
    event.route = std::string(split_path(event.route_full));

    // Busy hours are slower: queueing in the database and the app servers.
    double duration_ms =
        rng_.lognormal(profile.median_ms, profile.sigma) * latency_factor_ * (0.85 + 0.15 * load);
    double size = static_cast<double>(profile.response_bytes) * rng_.noise(0.3);
    int64_t db_queries = profile.db_queries;
    const double outcome = rng_.uniform();
    if (outcome < profile.error_rate) {
      event.status_code = rng_.chance(0.7) ? 500 : 503;
      event.error_type = event.status_code == 500 ? "internal_error" : "db_timeout";
      duration_ms = event.status_code == 503 ? rng_.uniform(1000, 5000) : duration_ms * 1.5;
      size = 120;
    } else if (outcome < profile.error_rate + profile.client_error_rate) {
      const auto [status, error_type] = client_error_of(profile.kind);
      event.status_code = status;
      event.error_type = std::string(error_type);
      duration_ms *= 0.4;
      size = 110;
      db_queries = std::min<int64_t>(db_queries, 1);
    } else if (profile.cdn_cached && rng_.chance(kCdnHitRate)) {
      event.status_code = 200;
      event.cache_status = "hit";
      duration_ms = rng_.lognormal(4, 0.4);
      db_queries = 0;
    } else if (profile.cdn_cached && rng_.chance(kNotModifiedRate)) {
      event.status_code = 304;
      size = 0;
    } else {
      event.status_code = profile.kind == RouteKind::kJobSubmit ? 202 : 200;
      if (profile.kind == RouteKind::kContentDelete) {
        event.status_code = 204;
        size = 0;
      }
    }
    if (!event.cache_status && profile.kind != RouteKind::kHealth) {
      event.cache_status = profile.cdn_cached ? "miss" : "bypass";
    }
    event.duration_ms = std::max<int64_t>(1, std::llround(duration_ms));
    event.response_size_bytes = std::llround(size);
    if (profile.kind != RouteKind::kHealth) event.db_query_count = db_queries;
    return event;
  }

  static std::string_view split_path(std::string_view target) {
    return target.substr(0, target.find('?'));
  }

  const DemoOptions options_;
  demo_model::DemoBatches<RouteEvent> batches_;
  const int64_t begin_us_;
  const DemoPopulation population_;
  DemoRng rng_;     // every decision about the traffic
  DemoRng id_rng_;  // event and job ids

  int64_t noise_day_ = std::numeric_limits<int64_t>::min();
  double day_noise_ = 1;
  double latency_factor_ = 1;  // set by target() for the hit being simulated
  std::deque<std::string> recent_jobs_;
};

}  // namespace

void generate_demo_route_traffic(const DemoOptions& options, size_t batch_size,
                                 const std::function<void(std::vector<RouteEvent>&&)>& sink) {
  RouteTrafficSimulator(options, batch_size, sink).run();
}

}  // namespace genalytics
