#include "cli/grid_table.h"

#include <algorithm>

namespace genalytics {
namespace {

// Display width: UTF-8 code points (our cells hold no wide characters).
size_t width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string rule(const std::vector<size_t>& widths, char fill) {
  std::string line = "+";
  for (size_t w : widths) line += std::string(w + 2, fill) + "+";
  return line + "\n";
}

std::string row_line(const std::vector<GridColumn>& columns, const std::vector<size_t>& widths,
                     const std::vector<std::string>& cells, bool header) {
  std::string line = "|";
  for (size_t i = 0; i < columns.size(); ++i) {
    const std::string& cell = i < cells.size() ? cells[i] : std::string();
    const std::string pad(widths[i] - width(cell), ' ');
    const bool right = columns[i].right_aligned && !header;
    // Appended piece by piece: `" " + (pad + cell) + " |"` trips GCC 12's
    // -Wrestrict false positive at -O3 (GCC PR 105651), and copies less.
    line += ' ';
    line += right ? pad : cell;
    line += right ? cell : pad;
    line += " |";
  }
  return line + "\n";
}

}  // namespace

std::string render_grid(const std::vector<GridColumn>& columns,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const GridColumn& c : columns) widths.push_back(width(c.header));
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size() && i < row.size(); ++i) {
      widths[i] = std::max(widths[i], width(row[i]));
    }
  }
  std::vector<std::string> headers;
  for (const GridColumn& c : columns) headers.push_back(c.header);
  std::string out = rule(widths, '-') + row_line(columns, widths, headers, true) + rule(widths, '=');
  for (const auto& row : rows) out += row_line(columns, widths, row, false) + rule(widths, '-');
  return out;
}

}  // namespace genalytics
