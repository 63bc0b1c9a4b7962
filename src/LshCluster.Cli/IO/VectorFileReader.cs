using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using LshCluster.Core.Evaluation;

namespace LshCluster.Cli.IO;

/// <summary>One vector read from a file: its id (the row number when the file has none) and its values.</summary>
/// <param name="Id">The external id.</param>
/// <param name="Values">The values.</param>
/// <param name="Malformed">Why the line could not be read (JSON lines only, when read tolerantly); null when it could.</param>
public sealed record VectorRecord(string Id, float[] Values, string? Malformed = null);

/// <summary>
/// Reads vectors from <c>.fvecs</c> (int32 dimension + float32 values per vector), <c>.npy</c> (float32, 2-D,
/// C order), JSON lines (<c>{"id": …, "vector": […]}</c>) or idx3 image files (MNIST / Fashion-MNIST, gzipped or
/// not; one vector of pixel values per image). Errors name the file, the row and the problem.
/// </summary>
public static class VectorFileReader
{
    /// <summary>Picks the format from an explicit name or the file extension.</summary>
    /// <exception cref="FormatException">Neither names a known format.</exception>
    public static string ResolveFormat(string path, string? format)
    {
        var resolved = format ?? (Path.GetFileName(path).Contains("idx3", StringComparison.OrdinalIgnoreCase) ? "idx" : null)
            ?? Path.GetExtension(path).TrimStart('.').ToLowerInvariant() switch
            {
                "fvecs" => "fvecs",
                "npy" => "npy",
                "jsonl" or "json" or "ndjson" => "jsonl",
                _ => null,
            };
        return resolved is "fvecs" or "npy" or "jsonl" or "idx"
            ? resolved
            : throw new FormatException($"--format: cannot tell the format of '{path}'; use --format fvecs|npy|jsonl|idx");
    }

    /// <summary>
    /// Streams the vectors of <paramref name="path"/> (<c>-</c> for standard input). A malformed JSON line throws,
    /// unless <paramref name="tolerateMalformed"/>: then it comes back as a record whose <c>Malformed</c> says why, so
    /// that an ingest can refuse that one item and go on.
    /// </summary>
    public static IEnumerable<VectorRecord> Read(string path, string? format = null, bool tolerateMalformed = false)
    {
        var resolved = ResolveFormat(path, format ?? (path == "-" ? "jsonl" : null));
        if (resolved == "idx")
        {
            return IdxReader.Read(path).Select((v, i) => new VectorRecord(i.ToString(System.Globalization.CultureInfo.InvariantCulture), v));
        }

        var stream = path == "-" ? Console.OpenStandardInput() : File.OpenRead(path);
        return resolved switch
        {
            "fvecs" => ReadFvecs(stream, path),
            "npy" => ReadNpy(stream, path),
            _ => ReadJsonLines(stream, path, tolerateMalformed),
        };
    }

    private static IEnumerable<VectorRecord> ReadFvecs(Stream stream, string path)
    {
        using var _ = stream;
        var header = new byte[4];
        for (var row = 0L; ; row++)
        {
            var got = stream.ReadAtLeast(header, 4, throwOnEndOfStream: false);
            if (got == 0)
            {
                yield break;
            }

            if (got < 4)
            {
                throw new FormatException($"{path}: row {row} is truncated in its dimension header");
            }

            var d = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (d is < 1 or > 65536)
            {
                throw new FormatException($"{path}: row {row} declares dimension {d}; expected 1 … 65536");
            }

            yield return ReadRow(stream, new byte[d * 4], path, row);
        }
    }

    private static IEnumerable<VectorRecord> ReadNpy(Stream stream, string path)
    {
        using var _ = stream;
        var prefix = new byte[10];
        if (stream.ReadAtLeast(prefix, 10, throwOnEndOfStream: false) < 10 || prefix[0] != 0x93 || Encoding.ASCII.GetString(prefix, 1, 5) != "NUMPY")
        {
            throw new FormatException($"{path}: not a .npy file (the magic bytes are missing)");
        }

        int headerLength;
        if (prefix[6] == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(8));
        }
        else
        {
            var extra = new byte[2];
            stream.ReadExactly(extra);
            headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian([prefix[8], prefix[9], extra[0], extra[1]]);
        }

        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var header = Encoding.ASCII.GetString(headerBytes);
        if (!header.Contains("'descr': '<f4'", StringComparison.Ordinal))
        {
            throw new FormatException($"{path}: only little-endian float32 arrays ('<f4') are supported; header: {header.Trim()}");
        }

        if (header.Contains("'fortran_order': True", StringComparison.Ordinal))
        {
            throw new FormatException($"{path}: Fortran-ordered arrays are not supported; save with C order");
        }

        var shapeStart = header.IndexOf("'shape': (", StringComparison.Ordinal) + 10;
        var shape = header[shapeStart..header.IndexOf(')', shapeStart)]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (shape.Length != 2)
        {
            throw new FormatException($"{path}: expected a 2-D array (rows × dimension); shape is ({string.Join(", ", shape)})");
        }

        var d = (int)shape[1];
        var bytes = new byte[d * 4];
        for (var row = 0L; row < shape[0]; row++)
        {
            yield return ReadRow(stream, bytes, path, row);
        }
    }

    /// <summary>Reads one row of <c>buffer.Length / 4</c> little-endian float32 values; its id is the row number.</summary>
    private static VectorRecord ReadRow(Stream stream, byte[] buffer, string path, long row)
    {
        var d = buffer.Length / 4;
        if (stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
        {
            throw new FormatException($"{path}: row {row} is truncated: expected {d} values");
        }

        var values = new float[d];
        for (var i = 0; i < d; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(buffer.AsSpan(i * 4));
        }

        return new VectorRecord(row.ToString(CultureInfo.InvariantCulture), values);
    }

    private static IEnumerable<VectorRecord> ReadJsonLines(Stream stream, string path, bool tolerateMalformed)
    {
        using var reader = new StreamReader(stream);
        var row = -1L;
        while (reader.ReadLine() is { } line)
        {
            row++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            VectorRecord record;
            try
            {
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement;
                if (!root.TryGetProperty("vector", out var vector) || vector.ValueKind != JsonValueKind.Array)
                {
                    throw new FormatException($"{path}: line {row + 1}: field 'vector' is missing or not an array");
                }

                var id = root.TryGetProperty("id", out var idElement)
                    ? idElement.ValueKind == JsonValueKind.String ? idElement.GetString()! : idElement.GetRawText()
                    : row.ToString(CultureInfo.InvariantCulture);
                var values = new float[vector.GetArrayLength()];
                var i = 0;
                foreach (var element in vector.EnumerateArray())
                {
                    if (element.ValueKind != JsonValueKind.Number)
                    {
                        throw new FormatException($"{path}: line {row + 1}: vector[{i}] is not a number");
                    }

                    values[i++] = element.GetSingle();
                }

                record = new VectorRecord(id, values);
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                var message = e is JsonException ? $"{path}: line {row + 1} is not valid JSON: {e.Message}" : e.Message;
                if (!tolerateMalformed)
                {
                    throw new FormatException(message, e);
                }

                record = new VectorRecord($"line {row + 1}", [], message);
            }

            yield return record;
        }
    }
}
