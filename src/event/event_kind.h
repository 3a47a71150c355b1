// What every event kind shares, so that the layers carrying events are
// written once for all kinds. A kind is a struct describing itself (see
// generation_kind.h, route_kind.h):
//
//   using Event;                       // the validated event type
//   static constexpr std::string_view kName;  // the seeds' table name: the
//       // middle of its stream keys ("{ns}:<kName>:stream", "...:dead") and
//       // its name in the pipeline status
//   static constexpr std::string_view kWorkerStatusKey;  // the pipeline
//       // status member holding its worker's figures
//   static Decoded decode_body(std::string_view body, bool ndjson,
//                              int64_t now_us, const EventDecodeOptions&);
//   static bool decode(const boost::json::value&, int64_t now_us,
//                      const EventDecodeOptions&, Event*, std::vector<FieldError>*);
//   static boost::json::object from_stream_fields(std::span<const StreamField>,
//       std::vector<FieldError>*, const boost::json::storage_ptr&);
//   static std::vector<std::pair<std::string, std::string>>
//       to_stream_fields(const Event&);
//
// KindList turns a list of kinds into the types and tables the layers use;
// event_batch.h holds the one list of the project's kinds.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "event/decode_limits.h"
#include "event/route_normalizer.h"

namespace genalytics {

// How entries and bodies of any kind are decoded; each kind reads what
// applies to it.
struct EventDecodeOptions {
  DecodeLimits limits;
  RouteNormalization normalization;  // route events
};

// A kind's position in the list of kinds (event_batch.h): also the index of
// its alternative in EventBatch and EventSpan.
enum class EventKind : uint8_t {};

template <typename... Kinds>
struct KindList {
  static constexpr size_t kCount = sizeof...(Kinds);

  // One batch of events of one kind.
  using Batch = std::variant<std::vector<typename Kinds::Event>...>;
  // A view of events of one kind.
  using Span = std::variant<std::span<const typename Kinds::Event>...>;

  // The kind whose events are `Event`.
  template <typename Event>
  static constexpr size_t index_of_event() {
    constexpr std::array<bool, kCount> matches = {std::is_same_v<Event, typename Kinds::Event>...};
    for (size_t i = 0; i < kCount; ++i) {
      if (matches[i]) return i;
    }
    return kCount;
  }
  template <typename Event>
  using KindOfEvent = std::tuple_element_t<index_of_event<Event>(), std::tuple<Kinds...>>;

  template <typename Kind>
  static constexpr EventKind kind() {
    return EventKind{static_cast<uint8_t>(index_of_event<typename Kind::Event>())};
  }

  // Every kind, in list order.
  static constexpr std::array<EventKind, kCount> all() {
    std::array<EventKind, kCount> kinds{};
    for (size_t i = 0; i < kCount; ++i) kinds[i] = EventKind{static_cast<uint8_t>(i)};
    return kinds;
  }

  static constexpr std::array<std::string_view, kCount> kNames = {Kinds::kName...};
  static constexpr std::array<std::string_view, kCount> kWorkerStatusKeys = {
      Kinds::kWorkerStatusKey...};

  // Calls `f(std::type_identity<Kind>{})` for the kind `kind`.
  // REQUIRES: `kind` is one of all().
  template <typename F>
  static void visit(EventKind kind, F&& f) {
    size_t index = 0;
    ((static_cast<size_t>(kind) == index++ ? f(std::type_identity<Kinds>{}) : void()), ...);
  }

  // An empty batch of `kind`.
  static Batch empty_batch(EventKind kind) {
    Batch batch;
    visit(kind, [&batch](auto tag) {
      batch.template emplace<std::vector<typename decltype(tag)::type::Event>>();
    });
    return batch;
  }

  static_assert(kCount > 0 && kCount < 256);
  static_assert(((index_of_event<typename Kinds::Event>() < kCount) && ...));
};

}  // namespace genalytics
