#include "base/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <utility>
#include <vector>

namespace genalytics {
namespace {

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

// A parked proxy connection used to be a bare int: copies of it could be
// closed twice (closing someone else's descriptor) or never.
TEST(UniqueFdTest, ParkedDescriptorIsClosedOnceByItsLastOwner) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[1]);
  const int fd = fds[0];
  {
    std::vector<UniqueFd> parked;
    {
      UniqueFd owner(fd);
      parked.push_back(std::move(owner));
      EXPECT_EQ(owner.get(), -1);  // NOLINT(bugprone-use-after-move): moved-from owns nothing
    }
    EXPECT_TRUE(is_open(fd)) << "the moved-from owner closed it";
    for (int i = 0; i < 100; ++i) parked.emplace_back();  // reallocation moves it again
    EXPECT_TRUE(is_open(fd));
    EXPECT_EQ(parked.front().get(), fd);
  }
  EXPECT_FALSE(is_open(fd)) << "the last owner left it open";
}

TEST(UniqueFdTest, ReleaseHandsOwnershipOverAndResetCloses) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  const int released = write_end.release();
  EXPECT_FALSE(write_end);
  write_end.reset();  // owns nothing: closes nothing
  EXPECT_TRUE(is_open(released));
  read_end = UniqueFd(released);  // closes the read end, owns the write end
  EXPECT_FALSE(is_open(fds[0]));
  EXPECT_TRUE(is_open(released));
  read_end.reset();
  EXPECT_FALSE(is_open(released));
}

}  // namespace
}  // namespace genalytics
