#include "event/time.h"

#include <chrono>

namespace genalytics {
namespace {

constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;

// Howard Hinnant's civil-date algorithms (http://howardhinnant.github.io/date_algorithms.html),
// in int64 so that every int64 microsecond value has a date.
constexpr int64_t days_from_civil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

struct CivilDate {
  int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

constexpr CivilDate civil_from_days(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {static_cast<int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(-1).year == 1969 && civil_from_days(-1).day == 31);

constexpr bool is_leap_year(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

constexpr unsigned days_in_month(int64_t year, unsigned month) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

constexpr int64_t floor_div(int64_t value, int64_t divisor) {
  const int64_t quotient = value / divisor;
  return quotient * divisor > value ? quotient - 1 : quotient;
}

// The range parse_rfc3339 accepts: years 0000 through 9999, in UTC.
constexpr int64_t kMinParsedUs = days_from_civil(0, 1, 1) * kMicrosPerDay;
constexpr int64_t kMaxParsedUs = days_from_civil(10000, 1, 1) * kMicrosPerDay - 1;

// Reads `count` decimal digits at `pos`; false unless all of them are digits.
bool read_digits(std::string_view text, size_t pos, size_t count, unsigned* value) {
  if (pos + count > text.size()) return false;
  unsigned result = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    const unsigned digit = static_cast<unsigned char>(text[i]) - '0';
    if (digit > 9) return false;
    result = result * 10 + digit;
  }
  *value = result;
  return true;
}

bool has_char(std::string_view text, size_t pos, char expected) {
  return pos < text.size() && text[pos] == expected;
}

// Writes `value` as exactly `width` digits, zero-padded. REQUIRES: it fits.
char* put_digits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

// "YYYY-MM-DD"; years outside 0000..9999 (never produced by parse_rfc3339)
// are written in full with their sign.
void append_date(std::string* out, int64_t us) {
  const CivilDate date = civil_from_days(floor_div(us, kMicrosPerDay));
  char buffer[10];
  if (date.year >= 0 && date.year <= 9999) {
    put_digits(buffer, date.year, 4);
    out->append(buffer, 4);
  } else {
    out->append(std::to_string(date.year));
  }
  buffer[0] = '-';
  put_digits(buffer + 1, date.month, 2);
  buffer[3] = '-';
  put_digits(buffer + 4, date.day, 2);
  out->append(buffer, 6);
}

// "THH:MM:SS".
void append_time_of_day(std::string* out, int64_t us) {
  const int64_t seconds = (us - floor_day(us)) / kMicrosPerSecond;
  char buffer[9];
  buffer[0] = 'T';
  put_digits(buffer + 1, seconds / 3600, 2);
  buffer[3] = ':';
  put_digits(buffer + 4, seconds / 60 % 60, 2);
  buffer[6] = ':';
  put_digits(buffer + 7, seconds % 60, 2);
  out->append(buffer, sizeof(buffer));
}

}  // namespace

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> parse_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  unsigned year, month, day, hour, minute, second;
  if (!read_digits(text, 0, 4, &year) || !has_char(text, 4, '-') ||
      !read_digits(text, 5, 2, &month) || !has_char(text, 7, '-') ||
      !read_digits(text, 8, 2, &day) || text.size() <= 10 ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, &hour) ||
      !has_char(text, 13, ':') || !read_digits(text, 14, 2, &minute) || !has_char(text, 16, ':') ||
      !read_digits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }

  size_t pos = 19;
  int64_t fraction_us = 0;
  if (has_char(text, pos, '.')) {
    ++pos;
    const size_t first_digit = pos;
    int64_t scale = 100'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction_us += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    const size_t digits = pos - first_digit;
    if (digits < 1 || digits > 9) return std::nullopt;
  }

  int64_t offset_us = 0;
  if (pos + 1 == text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-')) {
    unsigned offset_hour, offset_minute;
    if (!read_digits(text, pos + 1, 2, &offset_hour) || !has_char(text, pos + 3, ':') ||
        !read_digits(text, pos + 4, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return std::nullopt;
    }
    offset_us = (offset_hour * int64_t{60} + offset_minute) * kMicrosPerMinute;
    if (text[pos] == '-') offset_us = -offset_us;
  } else {
    return std::nullopt;
  }

  const int64_t us = days_from_civil(year, month, day) * kMicrosPerDay + hour * kMicrosPerHour +
                     minute * kMicrosPerMinute + second * kMicrosPerSecond + fraction_us -
                     offset_us;
  if (us < kMinParsedUs || us > kMaxParsedUs) return std::nullopt;
  return us;
}

std::string format_rfc3339_micros(int64_t us) {
  std::string text;
  text.reserve(27);
  append_date(&text, us);
  append_time_of_day(&text, us);
  char fraction[8];
  fraction[0] = '.';
  put_digits(fraction + 1, us - floor_div(us, kMicrosPerSecond) * kMicrosPerSecond, 6);
  fraction[7] = 'Z';
  text.append(fraction, sizeof(fraction));
  return text;
}

std::string format_rfc3339_seconds(int64_t us) {
  std::string text;
  text.reserve(20);
  append_date(&text, us);
  append_time_of_day(&text, us);
  text.push_back('Z');
  return text;
}

std::string format_date(int64_t us) {
  std::string text;
  text.reserve(10);
  append_date(&text, us);
  return text;
}

int64_t floor_hour(int64_t us) { return floor_div(us, kMicrosPerHour) * kMicrosPerHour; }

int64_t floor_day(int64_t us) { return floor_div(us, kMicrosPerDay) * kMicrosPerDay; }

int day_of_week(int64_t us) {
  // 1970-01-01 was a Thursday.
  const int64_t days = floor_div(us, kMicrosPerDay);
  return static_cast<int>((days % 7 + 11) % 7);
}

int hour_of_day(int64_t us) { return static_cast<int>((us - floor_day(us)) / kMicrosPerHour); }

}  // namespace genalytics
