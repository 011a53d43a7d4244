#!/usr/bin/env bash
# Generates the Java code for protos/, compiles it with PushExample.java and writes a launcher, with Debian 12's packages
# only: openjdk-17-jdk-headless, protobuf-compiler, protobuf-compiler-grpc-java-plugin, libprotobuf-java,
# libgrpc-java (grpc-java 1.41), libguava-java, libgeronimo-annotation-1.3-spec-java, libnetty-java, libperfmark-java,
# libgoogle-gson-java (.ci/setup installs them).
#
#   examples/java/build.sh [OUT]      # OUT defaults to examples/java/gen (git-ignored); the program is OUT/push-example,
#                                     # OUT/classpath the class path for your own programs
#
# Every .proto under protos/ (push/v1 and any vendored google/api) is generated. The protos set no java_package, so
# the classes are push.v1.GatewayServiceGrpc (stubs) and push.v1.GatewayServiceOuterClass.* (messages).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
protos="${PUSH_PROTOS:-$here/../../protos}"
out="${1:-$here/gen}"
jars=/usr/share/java
plugin=/usr/bin/grpc_java_plugin
for tool in java javac protoc "$plugin" "$jars/grpc-stub.jar" "$jars/netty-codec-http2.jar"; do
  command -v "$tool" >/dev/null || [ -f "$tool" ] || { echo "build.sh: $tool not found: run .ci/setup (apt openjdk-17-jdk-headless protobuf-compiler-grpc-java-plugin libgrpc-java libnetty-java ...)" >&2; exit 2; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/java" "$out/classes"
mkdir -p "$out/java" "$out/classes"

files=()
while IFS= read -r f; do files+=("$f"); done < <(cd "$protos" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
protoc -I "$protos" --plugin=protoc-gen-grpc-java="$plugin" --java_out="$out/java" --grpc-java_out="$out/java" "${files[@]}"

cp_of() { local IFS=:; local list=("$@"); echo "${list[*]/#/$jars/}"; }
compile=$(cp_of grpc-api.jar grpc-stub.jar grpc-protobuf.jar protobuf.jar guava.jar geronimo-annotation-1.3-spec.jar)
# Debian's netty-all.jar is an empty shell: the run class path names netty's parts.
run=$(cp_of grpc-api.jar grpc-context.jar grpc-core.jar grpc-netty.jar grpc-stub.jar grpc-protobuf.jar grpc-protobuf-lite.jar \
  protobuf.jar guava.jar perfmark-api.jar gson.jar netty-common.jar netty-buffer.jar netty-transport.jar netty-codec.jar \
  netty-codec-http.jar netty-codec-http2.jar netty-handler.jar netty-resolver.jar)

find "$out/java" -name '*.java' > "$out/sources.txt"
# The generated sources are large (about 100k lines): the JVM flags only make this one-off compile faster.
javac -J-XX:TieredStopAtLevel=1 -J-XX:+UseSerialGC -nowarn -encoding UTF-8 -d "$out/classes" -cp "$compile" @"$out/sources.txt" "$here/PushExample.java"

# OUT/classpath: the generated classes plus the run-time jars, for your own programs (java -cp "$(cat OUT/classpath)" ...)
echo "$out/classes:$run" > "$out/classpath"
cat > "$out/push-example" <<LAUNCHER
#!/bin/sh
exec java -cp "$out/classes:$run" PushExample "\$@"
LAUNCHER
chmod +x "$out/push-example"
echo "$out/push-example"
