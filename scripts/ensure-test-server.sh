#!/usr/bin/env bash
# Makes sure Temporal's time-skipping test server (the Java one, io.temporal:temporal-test-server)
# is ready to run, and prints the path of its executable wrapper. The workflow spec tests
# (test/workflow) hand that path to TestWorkflowEnvironment.createTimeSkipping as an
# `existing-path` executable: the SDK cannot download the server here.
#
# Once per version, into a cache outside the checkout (~/.cache/snapkeeper/test-server/<version>/):
#   pom.xml          the test server (and a logging binding that keeps it quiet)
#   lib/             its jars, copied out of Maven's local repository so the cache stands alone
#   classpath        the jars, ':'-separated
#   cds.jsa, jvm     a class-data-sharing archive of the server's start-up classes, and the Java
#                    runtime it was made with (another runtime gets a new archive)
#   temporal-test-server   the wrapper: `temporal-test-server PORT [ARGS...]` (what the SDK runs)
# Afterwards it only checks that the files are there (milliseconds).
set -euo pipefail

TEST_SERVER_VERSION="${TEMPORAL_TEST_SERVER_VERSION:-1.31.0}"
CACHE_DIR="${SNAPKEEPER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/snapkeeper}"
DIR="$CACHE_DIR/test-server/$TEST_SERVER_VERSION"
WRAPPER="$DIR/temporal-test-server"

need_java() {
  command -v java >/dev/null || {
    echo "ensure-test-server: java is not on PATH; the time-skipping test server needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)" >&2
    return 1
  }
}

# Which runtime `java` is, without starting it: the resolved binary, its size and its time.
jvm_identity() {
  local bin
  bin="$(readlink -f "$(command -v java)")"
  echo "$bin $(stat -c '%s %Y' "$bin")"
}

resolve_jars() {
  command -v mvn >/dev/null || {
    echo "ensure-test-server: mvn is not on PATH; it resolves the test server from Maven Central once (Debian: apt-get install maven)" >&2
    return 1
  }
  local major
  major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  if [ -z "$major" ] || [ "${major%%.*}" -lt 17 ] 2>/dev/null; then
    echo "ensure-test-server: java $major found; the test server $TEST_SERVER_VERSION needs Java 17 or newer" >&2
    return 1
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
  rm -rf "$DIR/lib" "$DIR/.lib.tmp" "$DIR/classpath"
  if ! mvn -q -B -Dstyle.color=never -f "$DIR/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$DIR/.lib.tmp" >"$DIR/.mvn.log" 2>&1; then
    tail -n 30 "$DIR/.mvn.log" >&2
    echo "ensure-test-server: Maven could not resolve io.temporal:temporal-test-server:$TEST_SERVER_VERSION (is Maven Central reachable? see ../shared/ENVIRONMENT.md)" >&2
    return 1
  fi
  mv "$DIR/.lib.tmp" "$DIR/lib"
  find "$DIR/lib" -name '*.jar' | sort | paste -sd: >"$DIR/.classpath.tmp"
  mv "$DIR/.classpath.tmp" "$DIR/classpath"
}

write_wrapper() {
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
  mv "$DIR/.wrapper.tmp" "$WRAPPER"
}

# The archive is written when a JVM that ran the server's start-up exits; a free port for that run.
make_archive() {
  echo "ensure-test-server: recording the test server's start-up classes (once per Java runtime)" >&2
  local port pid up=0
  port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
  rm -f "$DIR/cds.jsa" "$DIR/.cds.tmp" "$DIR/jvm"
  java -XX:ArchiveClassesAtExit="$DIR/.cds.tmp" -XX:+UseSerialGC -Xmx512m -cp "$(cat "$DIR/classpath")" \
    io.temporal.testserver.TestServer "$port" >"$DIR/.cds.log" 2>&1 &
  pid=$!
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
    return 1
  fi
  if [ -f "$DIR/.cds.tmp" ]; then
    mv "$DIR/.cds.tmp" "$DIR/cds.jsa"
  else
    # Without the archive the server still starts (the wrapper leaves the flag out), only slower.
    echo "ensure-test-server: no class-data-sharing archive was written; the server starts without it" >&2
    : >"$DIR/cds.jsa"
  fi
  jvm_identity >"$DIR/jvm"
}

need_java
[ -f "$DIR/classpath" ] || resolve_jars
[ -x "$WRAPPER" ] || write_wrapper
if [ ! -f "$DIR/cds.jsa" ] || [ "$(cat "$DIR/jvm" 2>/dev/null)" != "$(jvm_identity)" ]; then
  make_archive
fi
echo "$WRAPPER"
