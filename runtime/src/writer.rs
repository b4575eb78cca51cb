//! Writing `.aedge` files: the weights section builder and the final assembly. The writer
//! parses what it wrote before returning it, so a file it produces always loads.

use crate::container;
use crate::desc::{Blob, LatentDesc, LayerDesc, Meta, PatternDesc, Preprocess, SeriesDesc};
use crate::error::Error;
use crate::AlignedBytes;
use alloc::vec::Vec;
use half::f16;

/// Appends parameter arrays to a weights section, each aligned for in-place use.
#[derive(Default)]
pub(crate) struct WeightsBuilder {
    data: Vec<u8>,
}

impl WeightsBuilder {
    fn push_bytes(&mut self, bytes: &[u8], align: usize) -> Result<Blob, Error> {
        if bytes.is_empty() {
            return Ok(Blob::EMPTY);
        }
        let start = self.data.len().next_multiple_of(align);
        self.data.resize(start, 0);
        self.data.extend_from_slice(bytes);
        let too_big = |_| Error::Unsupported("models over 4 GiB");
        Ok(Blob {
            offset: u32::try_from(start).map_err(too_big)?,
            len: u32::try_from(bytes.len()).map_err(too_big)?,
        })
    }

    pub fn f32s(&mut self, v: &[f32]) -> Result<Blob, Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.push_bytes(&bytes, 4)
    }

    pub fn f16s(&mut self, v: &[f32]) -> Result<Blob, Error> {
        let bytes: Vec<u8> = v
            .iter()
            .flat_map(|x| f16::from_f32(*x).to_le_bytes())
            .collect();
        self.push_bytes(&bytes, 2)
    }

    pub fn i32s(&mut self, v: &[i32]) -> Result<Blob, Error> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.push_bytes(&bytes, 4)
    }

    pub fn i8s(&mut self, v: &[i8]) -> Result<Blob, Error> {
        let bytes: Vec<u8> = v.iter().map(|&x| x as u8).collect();
        self.push_bytes(&bytes, 1)
    }

    /// int8 values starting on a word boundary (kernels that load them a word at a time).
    pub fn i8s_aligned(&mut self, v: &[i8]) -> Result<Blob, Error> {
        let bytes: Vec<u8> = v.iter().map(|&x| x as u8).collect();
        self.push_bytes(&bytes, 4)
    }

    /// Encodes the graph, assembles the file, and checks that it parses.
    pub fn finish(
        self,
        meta: &Meta,
        layers: &[LayerDesc],
        series: Option<&SeriesDesc>,
        latent: Option<&LatentDesc>,
        pattern: Option<&PatternDesc>,
    ) -> Result<Vec<u8>, Error> {
        let encode_err = |_| Error::Malformed("graph cannot be encoded");
        let mut graph = postcard::to_allocvec(meta).map_err(encode_err)?;
        for l in layers {
            graph.extend_from_slice(&postcard::to_allocvec(l).map_err(encode_err)?);
        }
        graph.extend_from_slice(&postcard::to_allocvec(&series).map_err(encode_err)?);
        graph.extend_from_slice(&postcard::to_allocvec(&latent).map_err(encode_err)?);
        graph.extend_from_slice(&postcard::to_allocvec(&pattern).map_err(encode_err)?);
        let file = container::assemble(&graph, &self.data)?;
        crate::Model::parse(&AlignedBytes::copy_from(&file))?;
        Ok(file)
    }
}

/// A count stored as `u16` in the metadata (layers, encoder layers).
pub(crate) fn count(n: usize, what: &'static str) -> Result<u16, Error> {
    u16::try_from(n).map_err(|_| Error::InvalidGraph {
        layer: u16::MAX,
        reason: what,
    })
}

/// The preprocessing scale and offset written to the weights section.
pub(crate) fn preprocess_blobs(
    scale: &[f32],
    offset: &[f32],
    wb: &mut WeightsBuilder,
) -> Result<Preprocess, Error> {
    Ok(Preprocess {
        scale: wb.f32s(scale)?,
        offset: wb.f32s(offset)?,
    })
}
