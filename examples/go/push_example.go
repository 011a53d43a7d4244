// Command push-example calls the Push.Grpc control API from Go with code generated from protos/: it binds a
// connected client to a uid, adds it to a group, pushes to the group, to the uid and to the client's id
// (SendToClients), and counts the group.
//
//	examples/go/build.sh      # generates the code and builds examples/go/gen/push-example
//	examples/go/gen/push-example GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]
//
// GRPC_ADDRESS is a gateway's gRPC endpoint ("127.0.0.1:8283" or "http://127.0.0.1:8283"; "https://" uses TLS).
// CLIENT_ID is a connected WebSocket client (the demo worker greets each client with {"clientId":"..."}).
// The secret (--secret, or PUSH_CONTROL_SECRET / PUSH_SECRET) goes out as "authorization: Bearer SECRET" on every call.
// Prints one JSON line per step; exits 0 when every call succeeded, 1 when one failed, 2 on a usage error.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pushv1 "example.com/pushgen/push/v1"
)

const usage = "usage: push-example GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]"

type options struct {
	address, clientID, uid, group, text, secret string
}

func parseArgs(args []string) (options, error) {
	o := options{uid: "go-user", group: "go-room", text: "hello from go", secret: os.Getenv("PUSH_CONTROL_SECRET")}
	if o.secret == "" {
		o.secret = os.Getenv("PUSH_SECRET")
	}
	named := map[string]*string{"--uid": &o.uid, "--group": &o.group, "--text": &o.text, "--secret": &o.secret}
	var positional []string
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "--") {
			positional = append(positional, args[i])
			continue
		}
		target, ok := named[args[i]]
		if !ok || i+1 >= len(args) {
			return o, fmt.Errorf("unknown option or missing value: %s", args[i])
		}
		i++
		*target = args[i]
	}
	if len(positional) != 2 {
		return o, fmt.Errorf("%s", usage)
	}
	o.address, o.clientID = positional[0], positional[1]
	return o, nil
}

// printStep prints {"step":STEP,k1:v1,...} on one line, keys in the order given.
func printStep(step string, kv ...interface{}) {
	var b bytes.Buffer
	b.WriteString(`{"step":`)
	s, _ := json.Marshal(step)
	b.Write(s)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		b.WriteString(",")
		b.Write(k)
		b.WriteString(":")
		b.Write(v)
	}
	b.WriteString("}")
	fmt.Println(b.String())
}

func run(o options) error {
	target := strings.TrimRight(strings.TrimPrefix(strings.TrimPrefix(o.address, "http://"), "https://"), "/")
	transport := grpc.WithInsecure() // grpc-go 1.33 (Debian 12) has no credentials/insecure yet
	if strings.HasPrefix(o.address, "https://") {
		transport = grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	conn, err := grpc.Dial(target, transport)
	if err != nil {
		return err
	}
	defer conn.Close()
	gw := pushv1.NewGatewayServiceClient(conn)

	// The cluster secret travels as call metadata on every call.
	base := context.Background()
	if o.secret != "" {
		base = metadata.AppendToOutgoingContext(base, "authorization", "Bearer "+o.secret)
	}
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(base, 5*time.Second) }

	ctx, cancel := call()
	defer cancel()
	if _, err := gw.BindUid(ctx, &pushv1.BindUidRequest{ClientId: o.clientID, Uid: o.uid}); err != nil {
		return err
	}
	printStep("BindUid", "clientId", o.clientID, "uid", o.uid)

	ctx, cancel = call()
	defer cancel()
	if _, err := gw.JoinGroup(ctx, &pushv1.JoinGroupRequest{ClientId: o.clientID, Group: o.group}); err != nil {
		return err
	}
	printStep("JoinGroup", "clientId", o.clientID, "group", o.group)

	ctx, cancel = call()
	defer cancel()
	toGroup, err := gw.SendToGroup(ctx, &pushv1.SendToGroupRequest{
		Groups: []string{o.group},
		Data:   &pushv1.SendToGroupRequest_Text{Text: fmt.Sprintf("%s (group %s)", o.text, o.group)},
	})
	if err != nil {
		return err
	}
	printStep("SendToGroup", "group", o.group, "delivered", toGroup.GetDelivered())

	ctx, cancel = call()
	defer cancel()
	toUID, err := gw.SendToUid(ctx, &pushv1.SendToUidRequest{
		Uids: []string{o.uid},
		Data: &pushv1.SendToUidRequest_Text{Text: fmt.Sprintf("%s (uid %s)", o.text, o.uid)},
	})
	if err != nil {
		return err
	}
	printStep("SendToUid", "uid", o.uid, "delivered", toUID.GetDelivered())

	// An explicit recipient list is SendToClients (an empty list is refused); SendToAll always means everyone.
	ctx, cancel = call()
	defer cancel()
	toClients, err := gw.SendToClients(ctx, &pushv1.SendToClientsRequest{
		ClientIds: []string{o.clientID},
		Data:      &pushv1.SendToClientsRequest_Text{Text: o.text + " (clients)"},
	})
	if err != nil {
		return err
	}
	printStep("SendToClients", "clientIds", []string{o.clientID}, "delivered", toClients.GetDelivered())

	ctx, cancel = call()
	defer cancel()
	count, err := gw.GetClientCountByGroup(ctx, &pushv1.GetClientCountByGroupRequest{Group: o.group})
	if err != nil {
		return err
	}
	printStep("GetClientCountByGroup", "group", o.group, "count", count.GetCount(), "gatewaysAnswered", count.GetReach().GetGatewaysAnswered())
	return nil
}

// codeName turns "InvalidArgument" into "INVALID_ARGUMENT", the name the other languages print.
func codeName(camel string) string {
	var b strings.Builder
	for i, r := range camel {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rune(camel[i-1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "push-example: %v\n", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		// A gRPC error carries its code and message; the gateway adds google.rpc.ErrorInfo details.
		st := status.Convert(err)
		fmt.Fprintf(os.Stderr, "push-example: %s (%s)\n", st.Message(), codeName(st.Code().String()))
		os.Exit(1)
	}
}
