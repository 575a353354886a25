"""A load test: argv URL N CONCURRENCY. Sends N requests, CONCURRENCY at a time, and prints how many got 200."""
import concurrent.futures
import sys
import urllib.request

url, n, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def one(_):
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status == 200
    except OSError:
        return False


with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
    print(sum(pool.map(one, range(n))))
