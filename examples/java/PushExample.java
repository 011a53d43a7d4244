// Push.Grpc control API from Java with code generated from protos/: binds a connected client to a uid, adds it to a
// group, pushes to the group, to the uid and to the client's id (SendToClients), and counts the group.
//
//   examples/java/build.sh      # generates the code, compiles it and writes the launcher examples/java/gen/push-example
//   examples/java/gen/push-example GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]
//
// GRPC_ADDRESS is a gateway's gRPC endpoint ("127.0.0.1:8283" or "http://127.0.0.1:8283"; "https://" uses TLS).
// CLIENT_ID is a connected WebSocket client (the demo worker greets each client with {"clientId":"..."}).
// The secret (--secret, or PUSH_CONTROL_SECRET / PUSH_SECRET) goes out as "authorization: Bearer SECRET" on every call.
// Prints one JSON line per step; exits 0 when every call succeeded, 1 when one failed, 2 on a usage error.

import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import push.v1.GatewayServiceGrpc;
import push.v1.GatewayServiceGrpc.GatewayServiceBlockingStub;
import push.v1.GatewayServiceOuterClass.BindUidRequest;
import push.v1.GatewayServiceOuterClass.GetClientCountByGroupRequest;
import push.v1.GatewayServiceOuterClass.GetClientCountByGroupResponse;
import push.v1.GatewayServiceOuterClass.JoinGroupRequest;
import push.v1.GatewayServiceOuterClass.SendToClientsRequest;
import push.v1.GatewayServiceOuterClass.SendToGroupRequest;
import push.v1.GatewayServiceOuterClass.SendToUidRequest;

public final class PushExample {
    private static final String USAGE = "usage: push-example GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]";

    private PushExample() {
    }

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> opt = new LinkedHashMap<>();
        opt.put("--uid", "java-user");
        opt.put("--group", "java-room");
        opt.put("--text", "hello from java");
        opt.put("--secret", firstNonEmpty(System.getenv("PUSH_CONTROL_SECRET"), System.getenv("PUSH_SECRET")));
        List<String> positional = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--")) {
                positional.add(args[i]);
            } else if (opt.containsKey(args[i]) && i + 1 < args.length) {
                opt.put(args[i], args[++i]);
            } else {
                usageError("unknown option or missing value: " + args[i]);
            }
        }
        if (positional.size() != 2) {
            usageError(USAGE);
        }
        String address = positional.get(0);
        String clientId = positional.get(1);
        String uid = opt.get("--uid");
        String group = opt.get("--group");
        String text = opt.get("--text");
        String secret = opt.get("--secret");

        boolean tls = address.startsWith("https://");
        String target = address.replaceFirst("^https?://", "").replaceAll("/+$", "");
        ManagedChannelBuilder<?> builder = ManagedChannelBuilder.forTarget(target);
        ManagedChannel channel = (tls ? builder.useTransportSecurity() : builder.usePlaintext()).build();
        GatewayServiceBlockingStub gw = GatewayServiceGrpc.newBlockingStub(channel);
        if (!secret.isEmpty()) {
            // The cluster secret travels as call metadata on every call.
            Metadata headers = new Metadata();
            headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + secret);
            gw = gw.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        }
        int exit = 0;
        try {
            call(gw).bindUid(BindUidRequest.newBuilder().setClientId(clientId).setUid(uid).build());
            print("BindUid", "clientId", clientId, "uid", uid);

            call(gw).joinGroup(JoinGroupRequest.newBuilder().setClientId(clientId).setGroup(group).build());
            print("JoinGroup", "clientId", clientId, "group", group);

            long toGroup = call(gw).sendToGroup(SendToGroupRequest.newBuilder()
                .addGroups(group).setText(text + " (group " + group + ")").build()).getDelivered();
            print("SendToGroup", "group", group, "delivered", toGroup);

            long toUid = call(gw).sendToUid(SendToUidRequest.newBuilder()
                .addUids(uid).setText(text + " (uid " + uid + ")").build()).getDelivered();
            print("SendToUid", "uid", uid, "delivered", toUid);

            // An explicit recipient list is SendToClients (an empty list is refused); SendToAll always means everyone.
            long toClients = call(gw).sendToClients(SendToClientsRequest.newBuilder()
                .addClientIds(clientId).setText(text + " (clients)").build()).getDelivered();
            print("SendToClients", "clientIds", List.of(clientId), "delivered", toClients);

            GetClientCountByGroupResponse count = call(gw).getClientCountByGroup(
                GetClientCountByGroupRequest.newBuilder().setGroup(group).build());
            print("GetClientCountByGroup", "group", group, "count", count.getCount(), "gatewaysAnswered", count.getReach().getGatewaysAnswered());
        } catch (StatusRuntimeException e) {
            // A gRPC error carries its code and message; the gateway adds google.rpc.ErrorInfo details.
            System.err.println("push-example: " + e.getStatus().getDescription() + " (" + e.getStatus().getCode() + ")");
            exit = 1;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        System.exit(exit);
    }

    private static GatewayServiceBlockingStub call(GatewayServiceBlockingStub gw) {
        return gw.withDeadlineAfter(5, TimeUnit.SECONDS);
    }

    private static String firstNonEmpty(String a, String b) {
        return a != null && !a.isEmpty() ? a : b != null ? b : "";
    }

    private static void usageError(String message) {
        System.err.println("push-example: " + message);
        System.exit(2);
    }

    /** Prints {"step":STEP,k1:v1,...} on one line, keys in the order given. */
    private static void print(String step, Object... kv) {
        StringBuilder b = new StringBuilder("{\"step\":").append(json(step));
        for (int i = 0; i + 1 < kv.length; i += 2) {
            b.append(',').append(json(kv[i])).append(':').append(json(kv[i + 1]));
        }
        System.out.println(b.append('}'));
    }

    private static String json(Object value) {
        if (value instanceof Number) {
            return value.toString();
        }
        if (value instanceof List<?> list) {
            StringBuilder b = new StringBuilder("[");
            for (Object item : list) {
                b.append(b.length() > 1 ? "," : "").append(json(item));
            }
            return b.append(']').toString();
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : String.valueOf(value).toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return b.append('"').toString();
    }
}
