using System.Buffers.Binary;
using System.IO.Compression;

namespace LshCluster.Core.Evaluation;

/// <summary>
/// Reads the idx image files of MNIST-style datasets (big-endian magic 0x00000803, count, rows, columns, then one
/// byte per pixel), gzip-compressed or not, as float vectors of rows × columns values.
/// </summary>
public static class IdxReader
{
    /// <summary>The directories where Debian's dataset-fashion-mnist package installs its files.</summary>
    public static readonly string[] FashionMnistDirectories = ["/usr/share/dataset-fashion-mnist", "/usr/share/fashion-mnist", "/usr/share/datasets/fashion-mnist"];

    /// <summary>The Fashion-MNIST training and test images, if the package is installed; else null.</summary>
    public static List<float[]>? TryReadFashionMnist()
    {
        foreach (var directory in FashionMnistDirectories.Where(Directory.Exists))
        {
            var files = Directory.EnumerateFiles(directory, "*-images-idx3-ubyte*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            var train = files.FirstOrDefault(f => Path.GetFileName(f).StartsWith("train", StringComparison.Ordinal));
            var test = files.FirstOrDefault(f => Path.GetFileName(f).StartsWith("t10k", StringComparison.Ordinal));
            if (train is not null)
            {
                var vectors = Read(train);
                if (test is not null)
                {
                    vectors.AddRange(Read(test));
                }

                return vectors;
            }
        }

        return null;
    }

    /// <summary>Reads every image of an idx3 file.</summary>
    /// <exception cref="FormatException">The file is not an idx3 image file.</exception>
    public static List<float[]> Read(string path)
    {
        using var file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        Span<byte> header = stackalloc byte[16];
        stream.ReadExactly(header);
        if (BinaryPrimitives.ReadInt32BigEndian(header) != 0x803)
        {
            throw new FormatException($"{path}: not an idx3 image file (magic {BinaryPrimitives.ReadInt32BigEndian(header):x8})");
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        var size = BinaryPrimitives.ReadInt32BigEndian(header[8..]) * BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        var pixels = new byte[size];
        var vectors = new List<float[]>(count);
        for (var i = 0; i < count; i++)
        {
            stream.ReadExactly(pixels);
            vectors.Add([.. pixels.Select(p => (float)p)]);
        }

        return vectors;
    }
}
