/* Shared declarations of the crash-decoder fixture. */
int scale(int v, int n);
