# Writes fq/errors.rb, the Ruby exception classes, from core/errors.def.
#
#     gen_errors.rb ERRORS_DEF OUTPUT
#
# errors.def is the one table of fq's errors; a new line there becomes a new
# class here with no other edit. What only Ruby knows lives below: the class
# each one derives from, so `rescue Timeout::Error` or `rescue Errno::ENOENT`
# works as it does for Ruby's own libraries. FQ::Error is a module included
# in every class (Ruby has no multiple inheritance), so `rescue FQ::Error`
# catches them all.

# Class name in errors.def => the Ruby class it derives from (default
# StandardError). :errno: raised as Ruby's Errno::E* exception for the errno
# saved after the call, extended with the module of this name.
RUBY_BASES = {
  "InvalidArgument" => "ArgumentError",
  "NotFound" => "Errno::ENOENT",
  "PermissionDenied" => "Errno::EACCES",
  "Timeout" => "::Timeout::Error",
  "WouldBlock" => "ThreadError", # as Thread::Queue#pop(true) on an empty queue
  "Interrupted" => "Errno::EINTR",
  "BufferTooSmall" => "ArgumentError",
  "MessageTooLarge" => "Errno::EMSGSIZE",
  "Closed" => "ClosedQueueError", # as Thread::Queue#push after close; ends `loop`
  "SystemError" => :errno,
  "WrongMode" => "IOError", # as writing to a File opened for reading
  "SymbolicLink" => "Errno::ELOOP",
  "NoSpace" => "Errno::ENOSPC",
}.freeze

HEADER = <<~RUBY
  # frozen_string_literal: true

  # fq's exceptions. Generated from core/errors.def by gen_errors.rb: do not edit.
  require "timeout"

  module FQ
    # Included in every exception fq raises: `rescue FQ::Error` catches them
    # all. #code is the C API's FQ_E* value.
    module Error
      def code
        self.class::CODE
      end
    end

RUBY

FOOTER = <<~RUBY

    BY_CODE = {%<by_code>s}.freeze
    private_constant :BY_CODE

    # The exception for a negative FQ_E* code (called by the C module); its
    # message names `detail` (say the queue's path) when given, as Ruby's
    # own Errno messages do ("No such file or directory - jobs.fifo").
    def self.error(code, errno = 0, detail = nil)
      cls = BY_CODE[code]
      return RuntimeError.new("unknown fq error \#{code}").extend(Error) unless cls
      if cls == SystemError
        return SystemCallError.new(detail, errno).extend(cls) # "Too many open files - path"
      end
      return cls.new(detail) if cls < SystemCallError

      cls.new(detail ? "\#{detail}: \#{cls::TEXT}" : cls::TEXT)
    end
  end
RUBY

def main(src, out)
  pattern = /\AFQ_ERR\(([A-Z]+), *(-[0-9]+), *([A-Za-z]+), *"([^"]*)"\)/
  entries = File.foreach(src).select { |l| l.start_with?("FQ_ERR(") }.map do |line|
    m = pattern.match(line) or abort "#{src}: cannot parse: #{line.chomp}"
    [m[1], Integer(m[2]), m[3], m[4]]
  end
  unknown = RUBY_BASES.keys - entries.map { |e| e[2] }
  abort "gen_errors.rb: RUBY_BASES names classes not in #{src}: #{unknown.sort}" unless unknown.empty?

  text = +HEADER
  entries.each do |name, value, cls, doc|
    base = RUBY_BASES.fetch(cls, "StandardError")
    if base == :errno
      text << "  # FQ_E#{name}: #{doc}. Raised as Ruby's Errno::E* exception for the\n"
      text << "  # errno behind it (SystemCallError#errno), extended with this module.\n"
      text << "  module #{cls}\n    include Error\n\n"
      text << "    CODE = #{value}\n    TEXT = #{doc.dump}\n\n"
      text << "    def code\n      CODE\n    end\n  end\n\n"
    else
      text << "  # FQ_E#{name}: #{doc}.\n"
      text << "  class #{cls} < #{base}\n    include Error\n\n"
      text << "    CODE = #{value}\n    TEXT = #{doc.dump}\n  end\n\n"
    end
  end
  text.chomp!
  text << format(FOOTER, by_code: entries.map { |_, v, cls, _| "#{v} => #{cls}" }.join(", "))
  File.write(out, text)
end

main(*ARGV) if $PROGRAM_NAME == __FILE__
