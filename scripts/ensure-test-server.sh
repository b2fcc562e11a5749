#!/usr/bin/env bash
# Makes sure Temporal's time-skipping test server (the Java one, io.temporal:temporal-test-server)
# is ready to run, and prints the path of its executable wrapper. The workflow spec tests
# (test/workflow) hand that path to TestWorkflowEnvironment.createTimeSkipping as an
# `existing-path` executable: the SDK cannot download the server here.
#
# Once per version, into a cache outside the checkout (~/.cache/snapkeeper/test-server/<version>/):
#   pom.xml          one dependency, the test server
#   lib/             its jars, copied out of Maven's local repository so the cache stands alone
#   classpath        the jars, ':'-separated
#   cds.jsa          a class-data-sharing archive of the server's start-up classes
#   temporal-test-server   the wrapper: `temporal-test-server PORT [ARGS...]` (what the SDK runs)
# Afterwards it only checks that the files are there (milliseconds).
set -euo pipefail

TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
CACHE_DIR="${SNAPKEEPER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/snapkeeper}"
DIR="$CACHE_DIR/test-server/$TEST_SERVER_VERSION"
WRAPPER="$DIR/temporal-test-server"

if [ -x "$WRAPPER" ] && [ -f "$DIR/classpath" ] && [ -f "$DIR/cds.jsa" ]; then
  echo "$WRAPPER"
  exit 0
fi

command -v java >/dev/null || {
  echo "ensure-test-server: java is not on PATH; the time-skipping test server needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)" >&2
  exit 1
}
command -v mvn >/dev/null || {
  echo "ensure-test-server: mvn is not on PATH; it resolves the test server from Maven Central once (Debian: apt-get install maven)" >&2
  exit 1
}
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ -z "$java_major" ] || [ "${java_major%%.*}" -lt 17 ] 2>/dev/null; then
  echo "ensure-test-server: java $java_major found; the test server $TEST_SERVER_VERSION needs Java 17 or newer" >&2
  exit 1
fi

echo "ensure-test-server: resolving io.temporal:temporal-test-server:$TEST_SERVER_VERSION with Maven (once)" >&2
mkdir -p "$DIR"
cat >"$DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.snapkeeper</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$TEST_SERVER_VERSION</version>
    </dependency>
    <!-- The server logs through SLF4J 1.7 without a binding, which warns on every start. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
EOF
# A half-finished earlier attempt must not leave stale jars on the classpath.
rm -rf "$DIR/lib" "$DIR/.lib.tmp"
if ! mvn -q -B -Dstyle.color=never -f "$DIR/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$DIR/.lib.tmp" >&2; then
  echo "ensure-test-server: Maven could not resolve io.temporal:temporal-test-server:$TEST_SERVER_VERSION (is Maven Central reachable? see ../shared/ENVIRONMENT.md)" >&2
  exit 1
fi
mv "$DIR/.lib.tmp" "$DIR/lib"
find "$DIR/lib" -name '*.jar' | sort | paste -sd: >"$DIR/classpath"

cat >"$DIR/.wrapper.tmp" <<EOF
#!/usr/bin/env bash
# Written by snapkeeper's scripts/ensure-test-server.sh: Temporal's Java test server $TEST_SERVER_VERSION,
# called by the SDK as \`\$0 PORT [EXTRA_ARGS...]\`. exec, so the SDK's kill reaches the JVM itself.
# The class-data-sharing archive roughly halves the start-up, which the SDK allows 5 s for.
dir="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
cds=()
if [ -s "\$dir/cds.jsa" ]; then cds=(-XX:SharedArchiveFile="\$dir/cds.jsa" -Xshare:auto); fi
exec java "\${cds[@]}" -XX:+UseSerialGC -Xmx512m \\
  -cp "\$(cat "\$dir/classpath")" io.temporal.testserver.TestServer "\$@"
EOF
chmod +x "$DIR/.wrapper.tmp"

# The archive is written when a JVM that ran the server's start-up exits; a free port for that one run.
port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
rm -f "$DIR/cds.jsa"
java -XX:ArchiveClassesAtExit="$DIR/.cds.tmp" -XX:+UseSerialGC -Xmx512m -cp "$(cat "$DIR/classpath")" \
  io.temporal.testserver.TestServer "$port" >"$DIR/.cds.log" 2>&1 &
pid=$!
up=0
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
if [ "$up" != 1 ]; then
  echo "ensure-test-server: the test server did not start on port $port within 30 s:" >&2
  tail -n 20 "$DIR/.cds.log" >&2
  exit 1
fi
if [ -f "$DIR/.cds.tmp" ]; then
  mv "$DIR/.cds.tmp" "$DIR/cds.jsa"
else
  # Without the archive the server still starts (-Xshare:auto), only slower.
  echo "ensure-test-server: no class-data-sharing archive was written; the server starts without it" >&2
  : >"$DIR/cds.jsa"
fi
mv "$DIR/.wrapper.tmp" "$WRAPPER"
echo "$WRAPPER"
