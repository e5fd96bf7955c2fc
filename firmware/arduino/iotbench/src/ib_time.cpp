#include "ib_time.h"

#include <cstdio>

namespace ib {

// Howard Hinnant's civil-from-days, as firmware/lines.go civil().
std::string asctimeUTC(long long epoch) {
  static const char* days = "SunMonTueWedThuFriSat";
  static const char* months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  long long d = epoch / 86400, rem = epoch % 86400;
  if (rem < 0) {
    rem += 86400;
    d--;
  }
  int h = int(rem / 3600), mi = int(rem % 3600 / 60), s = int(rem % 60);
  int wd = int((d % 7 + 11) % 7);
  long long z = d + 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  long long doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long long mp = (5 * doy + 2) / 153;
  int day = int(doy - (153 * mp + 2) / 5 + 1);
  int mo = int(mp < 10 ? mp + 3 : mp - 9);
  long long y = yoe + era * 400 + (mo <= 2);
  char buf[40];
  snprintf(buf, sizeof buf, "%.3s %.3s%3d %02d:%02d:%02d %lld", days + wd * 3, months + (mo - 1) * 3, day, h, mi, s, y);
  return buf;
}

}  // namespace ib
