#include "support/Digest.h"

#include <openssl/evp.h>

#include <fstream>
#include <iterator>

#include "support/HexText.h"

namespace hph {

Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(context_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(context_)); }

void Sha256::update(std::span<const uint8_t> bytes) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(context_), bytes.data(), bytes.size());
}

void Sha256::update(std::string_view text) { update({reinterpret_cast<const uint8_t*>(text.data()), text.size()}); }

std::vector<uint8_t> Sha256::finish() {
  std::vector<uint8_t> out(32);
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(context_), out.data(), &length);
  out.resize(length);
  return out;
}

std::string sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  Sha256 digest;
  digest.update(bytes);
  return hexBytes(digest.finish(), HexLayout::kPacked);
}

}  // namespace hph
