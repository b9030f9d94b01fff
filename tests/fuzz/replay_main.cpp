// Runs a fuzz target over every file in the given corpus directories, without
// a fuzzer: saved inputs, crashes included, replay in ordinary CI. Each file
// is named before it runs, so a failure says which input broke.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i)
    for (const auto &e : std::filesystem::directory_iterator(argv[i]))
      if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());  // the same order on every machine
  for (const auto &path : files) {
    std::fprintf(stderr, "replay %s\n", path.c_str());
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "replay: cannot open %s\n", path.c_str());
      return 1;
    }
    const std::vector<uint8_t> input((std::istreambuf_iterator<char>(f)),
                                     std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  std::printf("replayed %zu inputs\n", files.size());
  return files.empty() ? 1 : 0;  // an empty or missing corpus is a failure, not a pass
}
