/* larder-server entry point (placeholder until the server core lands). */
#include <stdio.h>
int main(void) {
    puts("larder-server");
    return 0;
}
