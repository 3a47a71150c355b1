// Tables in the seed's grid style (Python tabulate's "grid" format).
#pragma once

#include <string>
#include <vector>

namespace genalytics {

struct GridColumn {
  std::string header;
  bool right_aligned = false;  // numbers
};

// Renders `rows` (one string per column) with +---+ borders, a === line under
// the header and a rule after every row.
std::string render_grid(const std::vector<GridColumn>& columns,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace genalytics
