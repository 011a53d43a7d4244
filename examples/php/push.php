<?php
// Push.Grpc control API from PHP over HTTP/JSON (php-cli + php-curl, no gRPC extension): binds a connected client
// to a uid, adds it to a group, pushes to the group and to the uid, and counts the group; then shows the two errors a
// backend meets: a call without credentials (HTTP 401) and a bad argument (HTTP 400), each with its reason.
//
//   php push.php API_URL CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]
//
// API_URL is a gateway's HTTP/JSON API (--api; `push start` serves http://127.0.0.1:8285).
// CLIENT_ID is a connected WebSocket client (the demo worker greets each client with {"clientId":"..."}).
// The secret is the control secret (--secret, else env PUSH_CONTROL_SECRET, else PUSH_SECRET).
// Prints one JSON line per step; exits 0 when every step went as described, 1 otherwise.

/** POSTs $body as JSON to $api/v1/$route; returns [HTTP status, decoded JSON answer]. */
function push_call(string $api, string $route, array $body, ?string $secret): array
{
    $headers = ['Content-Type: application/json'];
    if ($secret !== null && $secret !== '') {
        $headers[] = 'Authorization: Bearer ' . $secret;
    }
    $ch = curl_init(rtrim($api, '/') . '/v1/' . $route);
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => json_encode($body === [] ? new stdClass() : $body),
        CURLOPT_HTTPHEADER => $headers,
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 10,
    ]);
    $raw = curl_exec($ch);
    if ($raw === false) {
        fwrite(STDERR, "push.php: $route: " . curl_error($ch) . "\n");
        exit(1);
    }
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    curl_close($ch);
    return [$status, json_decode($raw, true)];
}

/** The ErrorInfo reason of an error answer (google.rpc.Status JSON), or null. */
function push_reason(?array $error): ?string
{
    foreach ($error['details'] ?? [] as $detail) {
        if (($detail['@type'] ?? '') === 'type.googleapis.com/google.rpc.ErrorInfo') {
            return $detail['reason'] ?? null;
        }
    }
    return null;
}

$options = ['uid' => 'php-user', 'group' => 'php-room', 'text' => 'hello from php',
    'secret' => getenv('PUSH_CONTROL_SECRET') ?: (getenv('PUSH_SECRET') ?: '')];
$positional = [];
for ($i = 1; $i < $argc; $i++) {
    if (str_starts_with($argv[$i], '--')) {
        $key = substr($argv[$i], 2);
        if (!array_key_exists($key, $options) || $i + 1 >= $argc) {
            fwrite(STDERR, "push.php: unknown option or missing value: {$argv[$i]}\n");
            exit(2);
        }
        $options[$key] = $argv[++$i];
    } else {
        $positional[] = $argv[$i];
    }
}
if (count($positional) !== 2) {
    fwrite(STDERR, "usage: php push.php API_URL CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]\n");
    exit(2);
}
[$api, $clientId] = $positional;
['uid' => $uid, 'group' => $group, 'text' => $text, 'secret' => $secret] = $options;

$ok = true;
$steps = [
    ['BindUid', 'bind-uid', ['client_id' => $clientId, 'uid' => $uid]],
    ['JoinGroup', 'join-group', ['client_id' => $clientId, 'group' => $group]],
    ['SendToGroup', 'send-to-group', ['groups' => [$group], 'text' => "$text (group $group)"]],
    ['SendToUid', 'send-to-uid', ['uids' => [$uid], 'text' => "$text (uid $uid)"]],
    ['GetClientCountByGroup', 'get-client-count-by-group', ['group' => $group]],
];
foreach ($steps as [$step, $route, $body]) {
    [$status, $answer] = push_call($api, $route, $body, $secret);
    $ok = $ok && $status === 200;
    echo json_encode(['step' => $step, 'status' => $status] + ($answer ?? [])), "\n";
}

// Without credentials: refused before the body is read, HTTP 401, reason ERROR_REASON_UNAUTHENTICATED.
[$status, $error] = push_call($api, 'send-to-group', ['groups' => [$group], 'text' => 'never sent'], null);
$ok = $ok && $status === 401;
echo json_encode(['step' => 'Unauthenticated', 'status' => $status, 'code' => $error['code'] ?? null, 'reason' => push_reason($error), 'message' => $error['message'] ?? null]), "\n";

// A bad argument (an empty group name): HTTP 400, reason ERROR_REASON_INVALID_FIELD, the field in the message.
[$status, $error] = push_call($api, 'send-to-group', ['groups' => [''], 'text' => 'never sent'], $secret);
$ok = $ok && $status === 400;
echo json_encode(['step' => 'InvalidArgument', 'status' => $status, 'code' => $error['code'] ?? null, 'reason' => push_reason($error), 'message' => $error['message'] ?? null]), "\n";

exit($ok ? 0 : 1);
