# frozen_string_literal: true

# Makes the generated push.v1 Ruby code loadable.
#
# The code is never checked in: it is generated from protos/ with grpc_tools_ruby_protoc (Debian's ruby-grpc-tools)
# into a folder that git ignores (examples/ruby/gen/ by default, or $PUSH_RB_GEN). If that folder already holds it
# (CI generates it into a temporary folder first), it is used as it is. Every .proto under protos/ is generated, so
# vendored imports (google/api/annotations.proto) come along.
module PushStubs
  HERE = __dir__
  PROTOS = ENV.fetch('PUSH_PROTOS', nil).to_s.empty? ? File.expand_path('../../protos', HERE) : ENV['PUSH_PROTOS']
  GEN = ENV.fetch('PUSH_RB_GEN', nil).to_s.empty? ? File.join(HERE, 'gen') : ENV['PUSH_RB_GEN']

  # Generates the code into GEN when it is missing and puts GEN first on the load path.
  def self.ensure_stubs
    unless File.exist?(File.join(GEN, 'push', 'v1', 'gateway_service_services_pb.rb'))
      files = Dir.chdir(PROTOS) { Dir.glob('**/*.proto').sort }
      Dir.mkdir(GEN) unless Dir.exist?(GEN)
      ok = system('grpc_tools_ruby_protoc', '-I', PROTOS, "--ruby_out=#{GEN}", "--grpc_out=#{GEN}", *files, chdir: PROTOS)
      raise "grpc_tools_ruby_protoc failed or is missing (run .ci/setup: apt ruby-grpc ruby-grpc-tools) for #{files.join(' ')}" unless ok
    end
    $LOAD_PATH.unshift(GEN) unless $LOAD_PATH.include?(GEN)
  end

  # 'http://127.0.0.1:8283' or '127.0.0.1:8283' -> ['127.0.0.1:8283', tls?]
  def self.grpc_target(address)
    [address.sub(%r{\Ahttps?://}, '').sub(%r{/+\z}, ''), address.start_with?('https://')]
  end

  # The cluster secret travels as 'authorization: Bearer SECRET' on every call.
  def self.call_metadata(secret)
    secret.to_s.empty? ? {} : { 'authorization' => "Bearer #{secret}" }
  end
end
