#!/usr/bin/env ruby
# frozen_string_literal: true

# Push.Grpc control API from Ruby with code generated from protos/: binds a connected client to a uid, adds it to a
# group, pushes to the group, to the uid and to the client's id (SendToClients), and counts the group.
#
#   ruby examples/ruby/push_example.rb GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]
#
# GRPC_ADDRESS is a gateway's gRPC endpoint ("127.0.0.1:8283" or "http://127.0.0.1:8283"; "https://" uses TLS).
# CLIENT_ID is a connected WebSocket client (the demo worker greets each client with {"clientId":"..."}).
# The secret (--secret, or PUSH_CONTROL_SECRET / PUSH_SECRET) goes out as "authorization: Bearer SECRET" on every call.
# Prints one JSON line per step; exits 0 when every call succeeded, 1 when one failed, 2 on a usage error.
# Needs Debian's ruby-grpc and ruby-grpc-tools; the generated code goes to examples/ruby/gen/ on first use.

require 'json'
require_relative 'push_stubs'

PushStubs.ensure_stubs
require 'grpc'
require 'push/v1/gateway_service_services_pb'

USAGE = 'usage: push_example.rb GRPC_ADDRESS CLIENT_ID [--uid U] [--group G] [--text T] [--secret S]'

def parse_args(argv)
  secret = [ENV.fetch('PUSH_CONTROL_SECRET', ''), ENV.fetch('PUSH_SECRET', '')].find { |s| !s.empty? } || ''
  opts = { '--uid' => 'ruby-user', '--group' => 'ruby-room', '--text' => 'hello from ruby', '--secret' => secret }
  positional = []
  args = argv.dup
  until args.empty?
    a = args.shift
    if !a.start_with?('--')
      positional << a
    elsif opts.key?(a) && !args.empty?
      opts[a] = args.shift
    else
      abort_usage("unknown option or missing value: #{a}")
    end
  end
  abort_usage(USAGE) unless positional.size == 2
  [positional[0], positional[1], opts]
end

def abort_usage(message)
  warn "push_example: #{message}"
  exit 2
end

def out(step, **fields)
  puts JSON.generate({ step: step, **fields })
  $stdout.flush
end

address, client_id, o = parse_args(ARGV)
uid, group, text = o.values_at('--uid', '--group', '--text')
target, tls = PushStubs.grpc_target(address)
credentials = tls ? GRPC::Core::ChannelCredentials.new : :this_channel_is_insecure
gw = Push::V1::GatewayService::Stub.new(target, credentials)
md = PushStubs.call_metadata(o['--secret'])
call = ->(method, request) { gw.public_send(method, request, metadata: md, deadline: Time.now + 5) }

begin
  call.(:bind_uid, Push::V1::BindUidRequest.new(client_id: client_id, uid: uid))
  out('BindUid', clientId: client_id, uid: uid)

  call.(:join_group, Push::V1::JoinGroupRequest.new(client_id: client_id, group: group))
  out('JoinGroup', clientId: client_id, group: group)

  r = call.(:send_to_group, Push::V1::SendToGroupRequest.new(groups: [group], text: "#{text} (group #{group})"))
  out('SendToGroup', group: group, delivered: r.delivered)

  r = call.(:send_to_uid, Push::V1::SendToUidRequest.new(uids: [uid], text: "#{text} (uid #{uid})"))
  out('SendToUid', uid: uid, delivered: r.delivered)

  # An explicit recipient list is SendToClients (an empty list is refused); SendToAll always means everyone.
  r = call.(:send_to_clients, Push::V1::SendToClientsRequest.new(client_ids: [client_id], text: "#{text} (clients)"))
  out('SendToClients', clientIds: [client_id], delivered: r.delivered)

  r = call.(:get_client_count_by_group, Push::V1::GetClientCountByGroupRequest.new(group: group))
  out('GetClientCountByGroup', group: group, count: r.count, gatewaysAnswered: r.reach&.gateways_answered)
rescue GRPC::BadStatus => e
  # A gRPC error carries its code and message; the gateway adds google.rpc.ErrorInfo details.
  name = GRPC::Core::StatusCodes.constants.find { |c| GRPC::Core::StatusCodes.const_get(c) == e.code }
  warn "push_example: #{e.details} (#{name || e.code})"
  exit 1
end
