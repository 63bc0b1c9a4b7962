using Google.Protobuf;
using LshCluster.Core.Vectors;
using LshCluster.Protocol.Internal;

namespace LshCluster.Protocol.Tests;

/// <summary>Numbers packed into the internal protocol's bytes fields survive the round trip through a real message.</summary>
public sealed class PackedArraysTests
{
    [Fact]
    public void Values_survive_serialisation_bit_for_bit()
    {
        float[] values = [1.5f, -0.0f, float.Epsilon, float.MaxValue, float.NaN];
        var keys = PackedArrays.Writer<ulong>(3);
        keys.Span[0] = 0;
        keys.Span[1] = ulong.MaxValue;
        keys.Span[2] = 0x0123_4567_89AB_CDEF;
        var sent = new HashedVector { Id = "a", Values = PackedArrays.From<float>(values), Keys = keys.ToByteString() };

        var received = HashedVector.Parser.ParseFrom(sent.ToByteArray());

        Assert.Equal(values.Select(BitConverter.SingleToInt32Bits), PackedArrays.ToArray<float>(received.Values, "values").Select(BitConverter.SingleToInt32Bits));
        Assert.Equal([0UL, ulong.MaxValue, 0x0123_4567_89AB_CDEFUL], PackedArrays.View<ulong>(received.Keys, "keys").ToArray());
        Assert.Equal(3, PackedArrays.Count<ulong>(received.Keys));
    }

    [Fact]
    public void A_length_that_is_not_whole_values_is_refused_naming_the_field()
    {
        var bytes = ByteString.CopyFrom(new byte[7]);

        var error = Assert.Throws<InvalidDataException>(() => PackedArrays.ToArray<float>(bytes, "items[3].values"));

        Assert.Contains("items[3].values", error.Message, StringComparison.Ordinal);
        Assert.Contains("7 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_is_no_values()
    {
        Assert.Empty(PackedArrays.ToArray<long>(ByteString.Empty, "ids"));
        Assert.Equal(0, PackedArrays.Writer<long>(0).ToByteString().Length);
    }

    [Fact]
    public void An_array_goes_into_a_message_without_a_copy_and_comes_out_equal()
    {
        float[] values = [1.5f, -2.25f, float.Epsilon];
        var bytes = NumberBytes.Bytes(values);
        var message = new HashedVector { Id = "a", Values = UnsafeByteOperations.UnsafeWrap(bytes) };

        values[0] = 7f; // the message sees the array itself (which is why stored vectors never change)
        var received = HashedVector.Parser.ParseFrom(message.ToByteArray());

        Assert.Equal([7f, -2.25f, float.Epsilon], NumberBytes.View<float>(received.Values.Memory).ToArray());
        Assert.Equal(12, bytes.Length);
        using var pinned = bytes.Pin();
        unsafe
        {
            Assert.Equal(7f, *(float*)pinned.Pointer);
        }
    }
}
