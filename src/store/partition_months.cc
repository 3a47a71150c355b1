#include "store/partition_months.h"

#include <fmt/format.h>

#include <utility>

#include "event/time.h"

namespace genalytics {
namespace {

std::pair<int, int> year_and_month(std::string_view month) {
  const size_t dash = month.rfind('-');
  return {std::stoi(std::string(month.substr(0, dash))),
          std::stoi(std::string(month.substr(dash + 1)))};
}

}  // namespace

std::string month_of(int64_t us) { return format_date(us).substr(0, 7); }

std::string month_plus(std::string_view month, int count) {
  auto [year, number] = year_and_month(month);
  const int index = year * 12 + (number - 1) + count;
  return fmt::format("{:04}-{:02}", index / 12, index % 12 + 1);
}

std::set<std::string> months_ahead_of(int64_t now_us, int months_ahead) {
  const std::string now = month_of(now_us);
  std::set<std::string> months;
  for (int i = 0; i <= months_ahead; ++i) months.insert(month_plus(now, i));
  return months;
}

std::string first_month_kept(int64_t now_us, int days) {
  return month_of(now_us - int64_t{days} * kMicrosPerDay);
}

std::string month_start_literal(std::string_view month) {
  auto [year, number] = year_and_month(month);
  // PostgreSQL has no year 0: the proleptic Gregorian year 0 is its 1 BC.
  if (year == 0) return fmt::format("0001-{:02}-01 00:00:00+00 BC", number);
  return fmt::format("{:04}-{:02}-01 00:00:00+00", year, number);
}

std::string partition_name(std::string_view table, std::string_view month) {
  std::string name = fmt::format("{}_p{}", table, month);
  name[name.rfind('-')] = '_';
  return name;
}

std::optional<std::string> month_of_partition(std::string_view table, std::string_view name) {
  const std::string prefix = fmt::format("{}_p", table);
  if (!name.starts_with(prefix)) return std::nullopt;
  std::string month(name.substr(prefix.size()));
  if (month.size() != 7 || month[4] != '_') return std::nullopt;
  month[4] = '-';
  for (size_t i : {0, 1, 2, 3, 5, 6}) {
    if (month[i] < '0' || month[i] > '9') return std::nullopt;
  }
  return month;
}

}  // namespace genalytics
