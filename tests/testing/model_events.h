// Small builders of valid model events for tests.
#pragma once

#include <string>

#include "event/model_event.h"
#include "event/uuid.h"

namespace genalytics::testing {

// A model event of `type` for `model_id` at `timestamp_us`; the optional fields unset.
inline ModelEvent make_model_event(ModelEventType type, const std::string& model_id,
                                   int64_t timestamp_us) {
  ModelEvent e;
  e.event_id = random_uuid();
  e.event_type = type;
  e.model_id = model_id;
  e.timestamp_us = timestamp_us;
  return e;
}

}  // namespace genalytics::testing
