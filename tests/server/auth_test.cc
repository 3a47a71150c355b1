#include "server/auth.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <fstream>
#include <string>

#include "server/app_server.h"
#include "server/http_client.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;

TEST(Sha256Test, MatchesTheFips180TestVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(ApiKeysTest, KeyListGivesEachKeyItsRole) {
  ApiKeys keys;
  keys.add_key_list("ingest:k1, read:k2,admin:k3,");
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_TRUE(keys.match("k1", ApiRole::kIngest).allowed);
  EXPECT_FALSE(keys.match("k1", ApiRole::kRead).allowed);
  EXPECT_TRUE(keys.match("k1", ApiRole::kRead).known);
  EXPECT_TRUE(keys.match("k2", ApiRole::kRead).allowed);
  EXPECT_TRUE(keys.match("k3", ApiRole::kRead).allowed);
  EXPECT_TRUE(keys.match("k3", ApiRole::kAdmin).allowed);
  EXPECT_FALSE(keys.match("k4", ApiRole::kRead).known);
  EXPECT_FALSE(keys.match("k", ApiRole::kRead).known);
}

TEST(ApiKeysTest, KeyListWithAnUnknownRoleIsRefusedWithoutEchoingTheKey) {
  ApiKeys keys;
  try {
    keys.add_key_list("read:k1,writer:secret-value");
    FAIL() << "an unknown role was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("API key 2"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("secret-value"), std::string::npos) << error.what();
  }
  EXPECT_THROW(keys.add_key_list("read:"), std::invalid_argument);
  EXPECT_THROW(keys.add_key_list("justakey"), std::invalid_argument);
}

TEST(ApiKeysTest, KeyFileHoldsHashesAndSkipsComments) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/keys";
  {
    std::ofstream out(path);
    out << "# ingest key of the web app\n\n"
        << "ingest:" << sha256_hex("web-app-key") << "\n"
        << "  read : " << sha256_hex("grafana-key") << "  \n";
  }
  ApiKeys keys;
  keys.add_key_file(path);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys.match("web-app-key", ApiRole::kIngest).allowed);
  EXPECT_TRUE(keys.match("grafana-key", ApiRole::kRead).allowed);
  // The file holds hashes: the hash itself is not a key.
  EXPECT_FALSE(keys.match(sha256_hex("web-app-key"), ApiRole::kIngest).known);
}

TEST(ApiKeysTest, KeyFileWithAPlainKeyNamesTheLine) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/keys";
  {
    std::ofstream out(path);
    out << "# comment\nread:not-a-hash\n";
  }
  ApiKeys keys;
  try {
    keys.add_key_file(path);
    FAIL() << "a plain key was accepted as a hash";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(path + ":2"), std::string::npos) << error.what();
  }
  EXPECT_THROW(keys.add_key_file(dir.path() + "/missing"), std::invalid_argument);
}

TEST(RequiredRoleTest, HealthIsOpenEventsNeedIngestAnalyticsNeedReadTheRestAdmin) {
  EXPECT_EQ(required_role(http::verb::get, "/health"), std::nullopt);
  EXPECT_EQ(required_role(http::verb::get, "/api/v1/health"), std::nullopt);
  EXPECT_EQ(required_role(http::verb::post, "/api/v1/events/generation"), ApiRole::kIngest);
  EXPECT_EQ(required_role(http::verb::post, "/api/v1/events/route"), ApiRole::kIngest);
  EXPECT_EQ(required_role(http::verb::get, "/api/v1/analytics/generation/overview"), ApiRole::kRead);
  EXPECT_EQ(required_role(http::verb::head, "/api/v1/analytics/pipeline"), ApiRole::kRead);
  EXPECT_EQ(required_role(http::verb::delete_, "/api/v1/analytics/generation/overview"), ApiRole::kAdmin);
  EXPECT_EQ(required_role(http::verb::delete_, "/api/v1/events/generation"), ApiRole::kAdmin);
  EXPECT_EQ(required_role(http::verb::get, "/api/v1/rules"), ApiRole::kAdmin);
  EXPECT_EQ(required_role(http::verb::get, "/healthz"), ApiRole::kAdmin);
}

TEST(LoopbackTest, OnlyAddressesOfThisMachineAreLoopback) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.0.0.2"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("::"));
  EXPECT_FALSE(is_loopback_host("192.168.1.20"));
  EXPECT_FALSE(is_loopback_host("example.com"));
}

struct RawAnswer {
  int status = 0;
  std::string text;
};

RawAnswer send(uint16_t port, std::string_view method, std::string_view target, std::string_view headers,
               std::string_view body = "") {
  const std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{}{}\r\n{}", method, target, headers,
      body.empty() ? "" : fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size()),
      body);
  RawAnswer answer;
  answer.text = testing::raw_exchange(port, request);
  if (answer.text.size() > 12) answer.status = std::stoi(answer.text.substr(9, 3));
  return answer;
}

class AuthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AppServerOptions options;
    options.data_dir = dir_.path();
    options.http.port = 0;
    options.api_keys.add_key_list("ingest:ingest-key,read:read-key,admin:admin-key");
    server_ = std::make_unique<AppServer>(options);
  }
  uint16_t port() const { return server_->port(); }

  testing::TempDir dir_;
  std::unique_ptr<AppServer> server_;
};

constexpr std::string_view kOverview = "/api/v1/analytics/generation/overview?days=1";
constexpr std::string_view kEvent =
    R"({"event_type": "request", "generation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"})";

TEST_F(AuthServerTest, RequestWithoutKeyIsRefusedWith401AndWwwAuthenticate) {
  const RawAnswer answer = send(port(), "GET", kOverview, "");
  EXPECT_EQ(answer.status, 401);
  EXPECT_NE(answer.text.find("WWW-Authenticate: Bearer"), std::string::npos) << answer.text;
  EXPECT_NE(answer.text.find(R"({"error":{"code":"unauthorized","message":)"), std::string::npos)
      << answer.text;
}

TEST_F(AuthServerTest, UnknownKeyIsRefusedWith401) {
  EXPECT_EQ(send(port(), "GET", kOverview, "Authorization: Bearer guessed\r\n").status, 401);
  EXPECT_EQ(send(port(), "GET", kOverview, "X-API-Key: guessed\r\n").status, 401);
  // Another scheme carries no key.
  EXPECT_EQ(send(port(), "GET", kOverview, "Authorization: Basic cmVhZC1rZXk6\r\n").status, 401);
}

TEST_F(AuthServerTest, WrongRoleIsRefusedWith403) {
  const RawAnswer ingest_reads = send(port(), "GET", kOverview, "Authorization: Bearer ingest-key\r\n");
  EXPECT_EQ(ingest_reads.status, 403);
  EXPECT_NE(ingest_reads.text.find(R"("code":"forbidden")"), std::string::npos) << ingest_reads.text;
  EXPECT_EQ(send(port(), "POST", "/api/v1/events/generation", "X-API-Key: read-key\r\n", kEvent).status, 403);
}

TEST_F(AuthServerTest, EachRoleReachesItsEndpointsWithEitherHeader) {
  EXPECT_EQ(send(port(), "GET", kOverview, "Authorization: Bearer read-key\r\n").status, 200);
  EXPECT_EQ(send(port(), "GET", kOverview, "authorization: bearer read-key\r\n").status, 200);
  EXPECT_EQ(send(port(), "GET", kOverview, "X-API-Key: read-key\r\n").status, 200);
  EXPECT_EQ(send(port(), "GET", kOverview, "X-API-Key: admin-key\r\n").status, 200);
  EXPECT_EQ(send(port(), "POST", "/api/v1/events/generation", "X-API-Key: ingest-key\r\n", kEvent).status,
            200);
  EXPECT_EQ(
      send(port(), "POST", "/api/v1/events/generation", "Authorization: Bearer admin-key\r\n", kEvent).status,
      200);
}

TEST_F(AuthServerTest, HealthStaysOpen) {
  EXPECT_EQ(send(port(), "GET", "/health", "").status, 200);
  EXPECT_EQ(send(port(), "GET", "/health", "X-API-Key: guessed\r\n").status, 200);
}

TEST_F(AuthServerTest, PercentEncodedPathIsCheckedAsTheApiRoutesIt) {
  // The API decodes the path; the check sees the same path it routes on.
  constexpr std::string_view kEncoded = "/api/v1/%61nalytics/generation/overview?days=1";
  EXPECT_EQ(send(port(), "GET", kEncoded, "").status, 401);
  EXPECT_EQ(send(port(), "GET", kEncoded, "X-API-Key: ingest-key\r\n").status, 403);
  EXPECT_EQ(send(port(), "GET", kEncoded, "X-API-Key: read-key\r\n").status, 200);
}

// Regression: the key was checked only once the body had been read, so a
// client without a key could still make the server read and hold a body up
// to the limit. The header alone now decides.
TEST_F(AuthServerTest, RequestWithoutKeyIsRefusedBeforeItsBodyIsRead) {
  const std::string headers_only =
      "POST /api/v1/events/generation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n";
  const std::string answer = testing::raw_exchange(port(), headers_only);
  ASSERT_GT(answer.size(), 12u) << "no answer before the body";
  EXPECT_EQ(answer.substr(9, 3), "401") << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
}

TEST(AppServerAuthTest, NonLoopbackAddressWithoutKeysIsRefused) {
  testing::TempDir dir;
  AppServerOptions options;
  options.data_dir = dir.path();
  options.http.host = "0.0.0.0";
  options.http.port = 0;
  try {
    AppServer server(options);
    FAIL() << "listened on 0.0.0.0 without keys";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("--insecure-no-auth"), std::string::npos) << error.what();
  }
  options.insecure_no_auth = true;
  AppServer insecure(options);
  EXPECT_EQ(testing::http_get(insecure.port(), "/health").status, 200);
}

TEST(AppServerAuthTest, NonLoopbackAddressWithKeysListens) {
  testing::TempDir dir;
  AppServerOptions options;
  options.data_dir = dir.path();
  options.http.host = "0.0.0.0";
  options.http.port = 0;
  options.api_keys.add_key(ApiRole::kRead, "k");
  AppServer server(options);
  EXPECT_EQ(testing::http_get(server.port(), "/api/v1/analytics/generation/overview?days=1").status, 401);
}

}  // namespace
}  // namespace genalytics
