// The HTTP intake over TLS (OpenSSL): certificates made with the openssl
// tool in a temp folder, the real adapter and broker. A bearer token or a
// client certificate the configured CA signed lets a caller in; neither is
// 401; plain HTTP to the TLS port gets no answer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "adapter_process.h"
#include "core/json.h"
#include "test_stack.h"

namespace refx::testing {
namespace {

// Makes ca.pem, NAME.pem and NAME.key (signed by the CA, CN and IP SAN as
// given) in `dir`. False when the openssl tool fails.
bool MakeCertificates(const std::string& dir) {
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::ofstream(dir + "/san.ext") << "subjectAltName=IP:127.0.0.1\n";
  std::string cmd = "cd " + dir + " && openssl req -x509 " + ec +
                    " -keyout ca.key -out ca.pem -days 2 -subj /CN=refx-test-ca 2>/dev/null";
  for (const auto& [name, cn, ext] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"server", "127.0.0.1", " -extfile san.ext"}, {"client", "niche-rms", ""}}) {
    cmd += " && openssl req " + ec + " -keyout " + name + ".key -out " + name + ".csr -subj /CN=" + cn +
           " 2>/dev/null && openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
           name + ".pem -days 2" + ext + " 2>/dev/null";
  }
  return std::system(cmd.c_str()) == 0;
}

TEST(AdapterTlsTest, TokenOrClientCertificateOverTls) {
  TestStack stack;
  ASSERT_TRUE(stack.StartBroker());
  TempDir certs;
  ASSERT_TRUE(MakeCertificates(certs.path()));
  const std::string d = certs.path();
  AdapterProcess adapter(stack, "agency-a",
                         "tls_cert_file: \"" + d + "/server.pem\" tls_key_file: \"" + d +
                             "/server.key\" tls_client_ca_file: \"" + d + "/ca.pem\"");
  ASSERT_TRUE(adapter.Start());
  const std::string body = ToJsonLine(SampleReferral("agency-a", "TLS-1"));

  httplib::SSLClient with_token("127.0.0.1", adapter.http_port());
  with_token.set_ca_cert_path((d + "/ca.pem").c_str());
  with_token.enable_server_certificate_verification(true);
  with_token.set_bearer_token_auth(adapter.token().c_str());
  auto r = with_token.Post("/v1/referrals", body, "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 202) << r->body;

  httplib::SSLClient with_cert("127.0.0.1", adapter.http_port(), (d + "/client.pem").c_str(),
                               (d + "/client.key").c_str());
  with_cert.set_ca_cert_path((d + "/ca.pem").c_str());
  with_cert.enable_server_certificate_verification(true);
  r = with_cert.Post("/v1/referrals", ToJsonLine(SampleReferral("agency-a", "TLS-2")), "application/json");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 202) << r->body;

  httplib::SSLClient neither("127.0.0.1", adapter.http_port());
  neither.set_ca_cert_path((d + "/ca.pem").c_str());
  neither.enable_server_certificate_verification(true);
  r = neither.Post("/v1/referrals", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);

  httplib::Client plain("127.0.0.1", adapter.http_port());
  plain.set_read_timeout(5, 0);
  auto p = plain.Post("/v1/referrals", body, "application/json");
  EXPECT_TRUE(!p || p->status != 202);

  ASSERT_TRUE(adapter.WaitForEmptySpool(60));
  EXPECT_EQ(adapter.Metric("refx_adapter_forwarded_total"), 2);
}

}  // namespace
}  // namespace refx::testing
